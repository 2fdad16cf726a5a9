"""The remote monitor: projections run by a worker process, followed from an API process.

One listener thread per process hears the positions the worker announces as each
projection transaction commits, wakes readers waiting for a position, and calls the
change listeners (``WatchEvents``). Nothing polls the read models per reader.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import cast

from eventsourcing.persistence import ProcessRecorder

from specsvc.application import SpecApplication, store_errors
from specsvc.persistence.interfaces import ProjectionFeed, SharedReadModel
from specsvc.projections import SpecProjections, binding_problem
from specsvc.runners.monitor import ProjectionMonitor, ProjectionStatus, not_reached

logger = logging.getLogger(__name__)

# How long one wait for an announcement lasts; after QUIET_REFRESH quiet seconds the
# tracking record is read again (an announcement lost with a connection is found then).
LISTEN_SECONDS = 1.0
QUIET_REFRESH = 10.0
RECONNECT_SECONDS = 1.0
# How long a status check lets the worker finish what was committed just before it.
STATUS_GRACE = 1.0


class RemoteMonitor(ProjectionMonitor):
    """Follows the read models a worker keeps; ``catch_up`` can only wait for it."""

    def __init__(
        self,
        application: SpecApplication,
        projections: SpecProjections,
        *,
        catch_up_timeout: float = 5.0,
        listen: bool = True,
    ):
        self._app = application
        self._projections = projections
        self._tracking: ProcessRecorder = projections.recorder
        self._shared = cast(SharedReadModel, projections.read_model)
        self._catch_up_timeout = catch_up_timeout
        self._listeners: list[Callable[[], None]] = []
        self._changed = threading.Condition()
        self._position = 0
        self._listen_error: str | None = None
        self._stopping = threading.Event()
        self._feed: ProjectionFeed | None = None
        self._refresh()
        self._thread: threading.Thread | None = None
        if listen:
            self._thread = threading.Thread(
                target=self._listen, name="projection-listener", daemon=True
            )
            self._thread.start()

    def projected_position(self) -> int:
        return self._position

    def known_position(self) -> int:
        return self._position

    def add_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def wait_for(self, position: int, timeout: float) -> None:
        if self._position >= position:
            return
        deadline = time.monotonic() + timeout
        self._refresh()  # what was announced may not have reached this process yet
        while self._position < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise not_reached(position, self._position)
            woke = True
            with self._changed:
                if self._position < position:
                    woke = self._changed.wait(min(remaining, LISTEN_SECONDS))
            if not woke:
                self._refresh()  # quiet for a while: look at the tracking record itself

    def catch_up(self) -> bool:
        with store_errors():
            head = self._app.recorder.max_notification_id() or 0
        try:
            self.wait_for(head, self._catch_up_timeout)
        except Exception:
            return False
        return True

    def status(self) -> ProjectionStatus:
        with store_errors():
            head = self._app.recorder.max_notification_id() or 0
            error = binding_problem(self._projections, self._app)
            running = self._shared.projector_running()
            self._refresh()
        if self._position < head:
            with contextlib.suppress(Exception):
                self.wait_for(head, STATUS_GRACE)
        lag = max(0, head - self._position)
        if error is None and not running and lag:
            error = "no projection worker is running (start specsvc project)"
        if error is None and self._listen_error:
            error = self._listen_error
        return {
            "lag": lag,
            "caught_up": lag == 0 and error is None,
            "error": error,
            "projector": "worker",
            "worker_running": running,
        }

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=LISTEN_SECONDS + 1)
        if self._feed is not None:
            self._feed.close()

    def _refresh(self) -> None:
        """Read the tracking record: the projected position, exactly."""
        with store_errors():
            tracked = self._tracking.max_tracking_id(self._app.name) or 0
        self._moved_to(tracked, exact=True)

    def _moved_to(self, position: int, *, exact: bool = False) -> None:
        with self._changed:
            # An announcement only moves forward; the tracking record is the truth (a
            # rebuild swapped in may have moved it).
            moved = position != self._position if exact else position > self._position
            if moved:
                self._position = position
                self._changed.notify_all()
        if moved:
            for listener in self._listeners:
                listener()

    def _listen(self) -> None:
        quiet_since = time.monotonic()
        while not self._stopping.is_set():
            try:
                if self._feed is None:
                    self._feed = self._shared.projected_feed()
                    self._feed.wait(0)  # connected and listening: now nothing is missed
                    self._refresh()  # what was announced before that
                heard = self._feed.wait(LISTEN_SECONDS)
                if self._listen_error is not None:
                    logger.info("listening for projected positions again")
                    self._listen_error = None
                if heard is not None:
                    quiet_since = time.monotonic()
                    self._moved_to(heard)
                elif time.monotonic() - quiet_since > QUIET_REFRESH:
                    quiet_since = time.monotonic()
                    self._refresh()
            except Exception as error:
                if self._listen_error is None:
                    logger.warning("lost the projection listener: %s; reconnecting", error)
                self._listen_error = f"not listening for projected positions: {error}"
                if self._feed is not None:
                    self._feed.close()
                self._feed = None
                self._stopping.wait(RECONNECT_SECONDS)
