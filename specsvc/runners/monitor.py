"""``ProjectionMonitor``: what the rest of the service may know about the projections.

Readiness, gRPC health, ``WatchEvents`` and read-your-writes use only this interface,
whichever process runs the projections.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import NotRequired, TypedDict

from specsvc.errors import Unavailable

RETRY_AFTER = 1


class ProjectionStatus(TypedDict):
    lag: int
    caught_up: bool
    error: str | None
    # Who projects: "embedded" (this process), or "worker" (a separate process, which
    # ``worker_running`` says is, or is not, holding the projector's lock).
    projector: NotRequired[str]
    worker_running: NotRequired[bool]


class ProjectionMonitor(ABC):
    """Projected position, lag, health, waiting for a position, and change listeners."""

    # How long ``wait_for`` sleeps between looks when nothing wakes it sooner.
    POLL_SECONDS = 0.05
    # True when this process's writes return only once projected (read-your-writes
    # holds without waiting); False when they are projected after they return.
    projects_own_writes = False

    @abstractmethod
    def projected_position(self) -> int:
        """The log position the read models have reached (0 when none)."""

    def known_position(self) -> int:
        """A position the read models have reached for certain, known without reading the
        store (0 when unknown); ``projected_position`` may be further on."""
        return 0

    def read_position(self, acknowledged: int) -> int:
        """The position a read of the read models must see when its caller names none,
        given the last position this process acknowledged to a writer."""
        return 0 if self.projects_own_writes else acknowledged

    @abstractmethod
    def status(self) -> ProjectionStatus:
        """Lag behind the event store, and whether the projections are caught up and well."""

    @abstractmethod
    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (quickly, without blocking) after each projection run."""

    @abstractmethod
    def catch_up(self) -> bool:
        """Bring the read models up to the head of the log if this process can; True
        when they are there (and the last run succeeded)."""

    def wait_for(self, position: int, timeout: float) -> None:
        """Return once ``position`` is projected; Unavailable after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.projected_position() < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise not_reached(position, self.projected_position())
            self.catch_up()
            if self.projected_position() < position:
                time.sleep(min(self.POLL_SECONDS, remaining))

    @abstractmethod
    def close(self) -> None:
        """Stop whatever this monitor runs."""


def not_reached(position: int, projected: int) -> Unavailable:
    return Unavailable(
        f"the read models have not reached position {position} yet (they are at"
        f" {projected}); retry shortly",
        details={"position": position, "projected": projected, "retry_after": RETRY_AFTER},
    )
