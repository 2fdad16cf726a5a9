"""The library's LISTEN/NOTIFY subscription, woken as soon as a commit is announced."""

from __future__ import annotations

from queue import Empty

import psycopg
from eventsourcing.persistence import Notification, ShutDown
from eventsourcing_sqlalchemy.recorders import SQLAlchemySubscription

from specsvc.persistence.postgres.connections import libpq_url

# How long one wait for an announcement lasts before the stop flag is looked at again.
WAKE_SECONDS = 0.25


class PromptSubscription(SQLAlchemySubscription):
    # The library's listener sleeps 0.1 s after every quiet poll (up to 0.1 s added to
    # each commit's projection) and listens only after its first read, so a commit made
    # between the two waits for the next one; this one blocks on the connection itself
    # and reads once more after LISTEN is in place.

    def _listen(self) -> None:
        try:
            url = libpq_url(getattr(self._recorder, "url", ""))
            with psycopg.connect(url, autocommit=True) as connection:
                connection.execute(f"LISTEN {self._recorder.channel_name}")
                self._has_been_notified.set()  # whatever committed before LISTEN took hold
                while not self._has_been_stopped and not self._thread_error:
                    for _ in connection.notifies(timeout=WAKE_SECONDS, stop_after=1):
                        self._has_been_notified.set()
        except BaseException as error:
            if self._thread_error is None:
                self._thread_error = error
            self.stop()

    def take_pulled(self, limit: int) -> list[Notification]:
        """Up to ``limit`` of the notifications already pulled from the event store, in
        order, without waiting for more: what ``next()`` would return without blocking.
        Called only by the thread that iterates (docs/architecture.md, section 7.1)."""
        taken: list[Notification] = []
        while len(taken) < limit and not self._has_been_stopped:
            if self._notifications_index == len(self._notifications):
                try:
                    self._notifications = self._notifications_queue.get_nowait()
                except (Empty, ShutDown):
                    break
                self._notifications_queue.task_done()
                self._notifications_index = 0
            end = min(len(self._notifications), self._notifications_index + limit - len(taken))
            taken.extend(self._notifications[self._notifications_index : end])
            self._notifications_index = end
        return taken
