"""``SpecService``: the application object behind every adapter (docs/behaviour.md, Python API)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from specsvc.application import SpecApplication
from specsvc.cache import NoCache, QueryCache
from specsvc.config import Settings
from specsvc.persistence.interfaces import SpecReadModelRecorder
from specsvc.runners.monitor import ProjectionMonitor
from specsvc.service.commands import SpecCommands
from specsvc.service.consistency import Consistency
from specsvc.service.memo import PositionMemo
from specsvc.service.operations import SpecOperations
from specsvc.service.queries import SpecQueries
from specsvc.service.slots import Slots
from specsvc.spectypes import SpecTypeRegistry


class SpecService(SpecCommands, SpecQueries, SpecOperations):
    """Commands and queries over specs; errors are ``specsvc.errors`` exceptions.

    Built from what it needs: the event-sourced application, the read models, the spec
    types, the settings, and a monitor of the projections. ``SpecService.open()`` builds
    all of them from settings.
    """

    def __init__(
        self,
        application: SpecApplication,
        read_model: SpecReadModelRecorder,
        types: SpecTypeRegistry,
        settings: Settings,
        monitor: ProjectionMonitor,
        *,
        on_close: Callable[[], None] | None = None,
        cache: QueryCache | None = None,
    ):
        self._app = application
        self._read_model = read_model
        self._types = types
        self.settings = settings
        self._monitor = monitor
        self._on_close = on_close or monitor.close
        self._evaluations = Slots(settings.max_concurrent_evaluations, "evaluations")
        self._consistency = Consistency(application, monitor, settings.consistency_timeout)
        self._cache = cache or NoCache()
        self._published_memo = PositionMemo()
        self._spec_memo = PositionMemo()

    @classmethod
    def open(
        cls,
        db: str | None = None,
        *,
        database_url: str | None = None,
        settings: Settings | None = None,
    ) -> SpecService:
        """Open a SQLite file (created if missing), a private in-memory store, or the
        PostgreSQL store ``database_url`` names (its worker runs the projections)."""
        # The one way in for importers: the composition root builds and starts the parts.
        from specsvc import bootstrap

        settings = settings or Settings.from_env()
        if db is not None:
            settings = replace(settings, db=db)
        if database_url is not None:
            settings = replace(settings, database_url=database_url)
        return bootstrap.start(settings).service

    def close(self) -> None:
        self._on_close()

    def __enter__(self) -> SpecService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
