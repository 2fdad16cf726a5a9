"""Read-your-writes across processes (docs/behaviour.md, Consistency).

Reads of the read models wait, within ``consistency_timeout``, until the projections
hold the position the caller needs: the ``min_position`` it names, or else the last
position this process acknowledged to a writer. The event store itself is always
current, so reads answered from it never wait.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from specsvc.application import SpecApplication, store_errors
from specsvc.errors import BadRequest
from specsvc.runners.monitor import ProjectionMonitor

MAX_POSITION = 2**63 - 1
POSITION_TEXT = re.compile(r"^[0-9]{1,19}$")


def min_position(value: Any) -> int | None:
    """A minimum position as a caller gives it: None, or a non-negative integer."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_POSITION:
        raise BadRequest(
            "min_position must be a non-negative integer: the position a write answered",
            details={"field": "min_position"},
        )
    return value


def parse_min_position(raw: str | None, name: str) -> int | None:
    """A minimum position sent as text (an HTTP header, gRPC metadata), or None."""
    if raw is None:
        return None
    if not POSITION_TEXT.fullmatch(raw.strip()) or int(raw) > MAX_POSITION:
        raise BadRequest(
            f"{name} must be a non-negative integer: the position a write answered",
            details={"field": name},
        )
    return int(raw)


class Consistency:
    def __init__(self, application: SpecApplication, monitor: ProjectionMonitor, timeout: float):
        self._app = application
        self._monitor = monitor
        self._timeout = timeout
        self._acknowledged = 0
        self._lock = threading.Lock()

    def acknowledge(self, position: int) -> None:
        """A writer was told ``position``: later reads here wait for it by default."""
        with self._lock:
            self._acknowledged = max(self._acknowledged, position)

    def needed(self, given: Any) -> int:
        """The position a read must see: the one given, else what the projection monitor
        asks for (the last position acknowledged here, the log's head, or 0 when the
        projections advance with every write before it returns)."""
        position = min_position(given)
        if position is not None:
            return position
        return self._monitor.read_position(self._acknowledged)

    def read_models(self, given: Any) -> int:
        """Wait until the read models hold the position needed; return a position they
        have reached (that one at least), read before the rows the caller reads next.

        Unavailable (with Retry-After) when they do not reach it in time; BadRequest for
        a position the event store has not reached, which no write can have answered.
        """
        needed = self.needed(given)
        if needed:
            known = self._monitor.known_position()
            if known >= needed:
                return known
        projected = self._monitor.projected_position()
        if projected >= needed:
            return projected
        with store_errors():
            head = self._app.recorder.max_notification_id() or 0
        if needed > head:
            raise BadRequest(
                f"min_position {needed} is past the last position of the log ({head})",
                details={"min_position": needed, "last_position": head},
            )
        self._monitor.wait_for(needed, self._timeout)
        return max(needed, self._monitor.known_position())
