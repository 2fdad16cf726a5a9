"""The library's LISTEN/NOTIFY subscription, woken as soon as a commit is announced."""

from __future__ import annotations

import psycopg
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
