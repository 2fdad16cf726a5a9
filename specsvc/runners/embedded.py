"""The embedded runner: the projections run in this process, beside its writers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Recording, Tracking
from eventsourcing.system import Follower, Leader, RecordingEvent, SingleThreadedRunner, System

from specsvc.application import store_errors
from specsvc.persistence.interfaces import SpecTimelineRecorder
from specsvc.projections import SpecProjections, binding_problem
from specsvc.runners.monitor import ProjectionMonitor, ProjectionStatus

logger = logging.getLogger(__name__)

# Another process projecting into the same file (``serve --workers``) may record a
# position first: the tracking record refuses it here (IntegrityError) and the loser
# resumes after it. Only a refusal without the record having moved is an error.
MAX_LOST_RACES = 1000
# How long the projector lets writers' commits gather before it projects them in one
# transaction (per event, a batch costs a fraction of a transaction of its own); a read
# that needs them sooner projects them itself.
GATHER_SECONDS = 0.01


class EmbeddedRunner(SingleThreadedRunner[UUID], ProjectionMonitor):
    """The library's single-threaded runner, extended where 9.5 falls short.

    - on start, followers catch up with everything recorded while they were down;
    - a writer's ``save()`` returns once its events are committed; a projector thread
      projects them, several writers' events in one transaction when they gathered, and
      reads of the read models first wait for the log's head as it stood when they began
      (read-your-writes, across processes too; docs/behaviour.md, Consistency). With
      ``defer_projection=False`` (operator tools) ``save()`` projects before returning;
    - a failing policy is logged and kept in ``last_error`` instead of being raised from
      the writer's ``save()`` after its events have committed; the next prompt retries;
    - optionally, a poller picks up events committed by other processes: it reads the
      event store's head, and catches up (and wakes the listeners) when it moved;
    - processes that project into the same file race quietly: a position is projected
      once, by whichever records it first, and the tracking record never moves back;
    - read models that do not belong to the event store (a restored older backup, a
      replaced store file) are never followed: rebuilt before serving when
      ``repair_read_models``, else reported and left alone for an operator to see.
    """

    def __init__(
        self,
        system: System,
        env: Any = None,
        *,
        poll_interval: float | None = None,
        catch_up_on_start: bool = True,
        repair_read_models: bool = False,
        defer_projection: bool = False,
    ):
        super().__init__(system, env)
        self.projects_own_writes = not defer_projection
        self.poll_interval = poll_interval
        self.catch_up_on_start = catch_up_on_start
        self.repair_read_models = repair_read_models
        self.binding_error: str | None = None
        self.last_error: BaseException | None = None
        self.listeners: list[Callable[[], None]] = []
        self._catch_up_lock = threading.Lock()
        self._stopping = threading.Event()
        self._poller: threading.Thread | None = None
        # Recordings committed here and not yet projected, for the projector thread.
        self._pending: list[RecordingEvent[UUID]] = []
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._projector: threading.Thread | None = None
        self._known = 0

    def start(self) -> None:
        super().start()
        self._check_binding()
        if self.catch_up_on_start:
            self.catch_up()
        if not self.projects_own_writes:
            self._projector = threading.Thread(
                target=self._project_deferred, name="projector", daemon=True
            )
            self._projector.start()
        if self.poll_interval:
            self._poller = threading.Thread(
                target=self._poll, name="projection-poller", daemon=True
            )
            self._poller.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._projector is not None:
            self._projector.join()  # it projects what was committed before it stops
            self.catch_up()  # and what a writer handed it as it stopped
        if self._poller is not None:
            self._poller.join()
        with self._catch_up_lock:
            super().stop()

    def close(self) -> None:
        self.stop()

    def receive_recording_event(self, new_recording_event: RecordingEvent[UUID]) -> None:
        if self._projector is not None and self._projector.is_alive():
            with self._pending_lock:
                self._pending.append(new_recording_event)
            self._wake.set()
            return
        recorded = new_recording_event
        if not self._project_recorded(recorded.application_name, recorded.recordings):
            self.catch_up()

    def _project_deferred(self) -> None:
        """The projector thread: what writers committed since its last run, in one
        transaction per leader when the positions follow each other (else from the log)."""
        while True:
            self._wake.wait()
            self._stopping.wait(GATHER_SECONDS)
            with self._pending_lock:
                gathered, self._pending = self._pending, []
                self._wake.clear()
            try:
                self._project_gathered(gathered)
            except Exception:  # the store is unreachable: the next write or read retries
                logger.exception("projection failed; will retry on the next event")
            if self._stopping.is_set():
                with self._pending_lock:
                    if not self._pending:
                        return

    def _project_gathered(self, gathered: list[RecordingEvent[UUID]]) -> None:
        done = self.projected_position()  # a reader may have projected them already
        by_leader: dict[str, list[Recording[UUID]]] = {}
        for recorded in gathered:
            by_leader.setdefault(recorded.application_name, []).extend(
                r for r in recorded.recordings if r.notification.id > done
            )
        for leader_name, recordings in by_leader.items():
            # Writers hand their events over after their commits, not always in order.
            recordings.sort(key=lambda r: r.notification.id)
            if recordings and not self._project_recorded(leader_name, recordings):
                self.catch_up()

    def _project_recorded(self, leader_name: str, recordings: list[Recording[UUID]]) -> bool:
        """Project writers' events as they recorded them, without reading them back from
        the log, when they are the next the read models need and follow each other (else,
        or on any failure, False: ``catch_up`` reads the log)."""
        if not recordings:
            return False
        first = recordings[0].notification.id
        if any(r.notification.id != first + i for i, r in enumerate(recordings)):
            return False
        with self._catch_up_lock:
            if (self._stopping.is_set() and self._projector is None) or self.binding_error:
                return False
            try:
                for follower_name in self.system.leads[leader_name]:
                    follower = cast(SpecProjections, self._follower(follower_name))
                    follower.process_batch(
                        [
                            (r.domain_event, Tracking(leader_name, r.notification.id))
                            for r in recordings
                        ],
                        after=first - 1,
                    )
            except Exception:  # a race with another process, or a failure: catch_up says
                return False
            self.last_error = None
        self._tell_listeners()
        return True

    def catch_up(self) -> bool:
        with self._catch_up_lock:
            if (self._stopping.is_set() and not self.apps) or self.binding_error:
                return False
            try:
                for leader_name, follower_name in self.system.edges:
                    self._pull(leader_name, follower_name)
            except Exception as error:  # a projection bug must not fail committed writes
                logger.exception("projection failed; will retry on the next event")
                self.last_error = error
                return False
            self.last_error = None
        self._tell_listeners()
        return True

    def _tell_listeners(self) -> None:
        for listener in self.listeners:
            listener()

    def add_listener(self, listener: Callable[[], None]) -> None:
        self.listeners.append(listener)

    def read_position(self, acknowledged: int) -> int:
        # Any process may have answered a write it has not projected yet: the log's head.
        if self.projects_own_writes:
            return 0
        with store_errors():
            return self._head()

    def known_position(self) -> int:
        return self._known

    def projected_position(self) -> int:
        with store_errors():
            position = min(
                self._follower(follower).recorder.max_tracking_id(leader) or 0
                for leader, follower in self.system.edges
            )
        # Tracking records only move forward (a rebuild is swapped in only if it is not
        # behind), so any position once read stays reached.
        self._known = max(self._known, position)
        return position

    def status(self) -> ProjectionStatus:
        with store_errors():
            lag = self.lag()
            if lag:
                # A write may be between its commit and its projection: let it finish.
                self.catch_up()
                lag = self.lag()
        error = self.binding_error or (None if self.last_error is None else str(self.last_error))
        caught_up = lag == 0 and error is None
        return {"lag": lag, "caught_up": caught_up, "error": error, "projector": "embedded"}

    def _check_binding(self) -> None:
        for leader_name, follower_name in self.system.edges:
            leader = cast(Leader[UUID], self.apps[leader_name])
            follower = cast(SpecProjections, self.apps[follower_name])
            problem = binding_problem(follower, leader)
            if problem is None:
                continue
            if not self.repair_read_models:
                self.binding_error = f"{problem}; run specsvc rebuild-projections"
                logger.error("%s", self.binding_error)
                continue
            logger.warning("%s: rebuilding them from the event store", problem)
            store = cast(SpecTimelineRecorder, leader.recorder).store_id()
            follower.read_model.reset(store, leader_name)

    def lag(self) -> int:
        """How many log positions the slowest follower is behind its leader."""
        behind = 0
        for leader_name, follower_name in self.system.edges:
            leader = cast(Leader[UUID], self.apps[leader_name])
            head = leader.recorder.max_notification_id() or 0
            done = self._follower(follower_name).recorder.max_tracking_id(leader_name) or 0
            behind = max(behind, head - done)
        return behind

    def _follower(self, name: str) -> Follower[UUID]:
        return cast(Follower[UUID], self.apps[name])

    def _pull(self, leader_name: str, follower_name: str) -> None:
        follower = cast(SpecProjections, self._follower(follower_name))
        for _ in range(MAX_LOST_RACES):
            before = follower.recorder.max_tracking_id(leader_name) or 0
            try:
                # What has gathered since (other processes' writes, or writers of this
                # one that committed while another projected) goes in one transaction.
                follower.catch_up(leader_name)
                return
            except IntegrityError:
                # The library's single-row tracking record only moves forward (a
                # conditional upsert): refused, another process projected the position,
                # and the events it applied are not applied here.
                if (follower.recorder.max_tracking_id(leader_name) or 0) <= before:
                    raise
        raise IntegrityError(f"{follower_name} lost {MAX_LOST_RACES} races in a row")

    def _poll(self) -> None:
        assert self.poll_interval
        seen: int | None = None
        while not self._stopping.wait(self.poll_interval):
            try:
                head = self._head()
            except Exception:  # the store is unreachable: catch_up says so
                head = None
            if head is None or head != seen or self.last_error is not None:
                seen = head if self.catch_up() else None

    def _head(self) -> int:
        """The newest log position of the leaders (a cheap read of the event store)."""
        return max(
            cast(Leader[UUID], self.apps[leader]).recorder.max_notification_id() or 0
            for leader, _ in self.system.edges
        )
