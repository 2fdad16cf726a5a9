"""Runtime facts of ``SpecService``: storage, projection health, waiting for positions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from specsvc.application import SpecApplication, store_errors
from specsvc.cache import CacheStatus, QueryCache
from specsvc.errors import StoreCorrupted
from specsvc.persistence.interfaces import ReadModelAltered, SpecReadModelRecorder
from specsvc.runners.monitor import ProjectionMonitor, ProjectionStatus
from specsvc.service.queries import reaches


class SpecOperations:
    _app: SpecApplication
    _read_model: SpecReadModelRecorder
    _monitor: ProjectionMonitor
    _cache: QueryCache

    def projection_status(self) -> ProjectionStatus:
        """Readiness facts: is the store reachable and are the projections caught up?"""
        return self._monitor.status()

    def store_status(self) -> dict[str, Any]:
        """``ok``, or ``corrupted`` with the position and reason of the first stored event
        or snapshot this process found failing to decode or to match the hash chain (the
        service stays unready until it is restarted on a repaired store), else of the
        last read-model row found changed, while that spec's rows still fail their
        checks (``specsvc rebuild-projections`` repairs them while the service runs)."""
        corruption = self._app.corruption or self._read_model_still_corrupted()
        if corruption is None:
            return {"state": "ok"}
        return {
            "state": "corrupted",
            "position": corruption.details.get("position"),
            "kind": corruption.details.get("kind"),
            "reason": corruption.message,
        }

    def _read_model_still_corrupted(self) -> StoreCorrupted | None:
        found = self._app.read_model_corruption
        if found is None:
            return None
        error, spec = found
        try:
            with store_errors():
                summary = self._read_model.select_summary(spec)
                if summary is None:
                    return error
                versions = self._read_model.select_versions(spec)
                reaches(summary, len(versions), "version", "version")
                events = self._read_model.select_history(spec)
                reaches(summary, len(events), "revision", "event")
                self._read_model.select_published(spec)
        except (ReadModelAltered, StoreCorrupted):
            return error
        self._app.read_model_corruption = None
        return None

    def cache_status(self) -> CacheStatus:
        """The query cache: off, ok, or degraded (reads are answered from the store)."""
        return self._cache.status()

    def projected_position(self) -> int:
        """The log position of the last event the read models hold (0 when none)."""
        return self._monitor.projected_position()

    def wait_for_position(self, position: int, timeout: float) -> None:
        """Return once the read models hold ``position``; Unavailable after ``timeout``."""
        self._monitor.wait_for(position, timeout)

    def on_projected(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (quickly, without blocking) after each projection run."""
        self._monitor.add_listener(listener)

    def catch_up(self) -> bool:
        """Project everything recorded so far, including other processes' commits."""
        return self._monitor.catch_up()

    def storage_info(self) -> dict[str, Any]:
        """Where the stores live and the durability settings in force."""
        with store_errors():
            return {
                "events": self._app.timeline.describe(),
                "projections": self._read_model.describe(),
            }
