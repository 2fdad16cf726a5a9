"""The composition root: settings in, a running system of applications out."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from specsvc.application import SpecApplication
from specsvc.config import Settings
from specsvc.persistence.sqlite.factory import SYNCHRONOUS_FULL, DurableDatastore
from specsvc.projections import SpecProjections
from specsvc.system import CatchUpRunner, spec_system


def projections_path(db: str) -> str:
    """The projections' file beside the event store: ``a.db`` -> ``a.projections.db``."""
    base, ext = os.path.splitext(db)
    return f"{base}.projections{ext or '.db'}"


def library_env(settings: Settings) -> dict[str, str]:
    """The ``eventsourcing`` environment: one SQLite database per application."""
    if settings.db is None:
        private = uuid4().hex
        events = f"file:specsvc-{private}-events?mode=memory&cache=shared"
        projections = f"file:specsvc-{private}-projections?mode=memory&cache=shared"
    else:
        events, projections = settings.db, projections_path(settings.db)
    return {
        "PERSISTENCE_MODULE": "specsvc.persistence.sqlite.factory:Factory",
        f"{SpecApplication.name.upper()}_SQLITE_DBNAME": events,
        f"{SpecProjections.name.upper()}_SQLITE_DBNAME": projections,
        "SQLITE_LOCK_TIMEOUT": str(settings.sqlite_lock_timeout),
    }


@dataclass
class Components:
    runner: CatchUpRunner
    application: SpecApplication
    projections: SpecProjections

    def storage_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {}
        for key, app in (("events", self.application), ("projections", self.projections)):
            datastore = getattr(app.recorder, "datastore", None)
            if isinstance(datastore, DurableDatastore):
                info[key] = {"database": datastore.pool.db_name, **datastore.pragmas()}
        return info


def start(settings: Settings) -> Components:
    """Start the system; projections catch up before this returns."""
    runner = CatchUpRunner(
        spec_system, env=library_env(settings), poll_interval=settings.projection_poll_interval
    )
    runner.start()
    components = Components(runner, runner.get(SpecApplication), runner.get(SpecProjections))
    if settings.db is not None:
        try:
            check_durability(components)
        except Exception:
            runner.stop()
            raise
    return components


REBUILD_STEP = 500


def rebuild_projections(
    application: SpecApplication,
    db: str | None,
    progress: Callable[[int, int], None] | None = None,
) -> SpecProjections:
    """Replay the whole event log into a fresh projections store (a file, or memory).

    ``progress(done, total)`` is called after every step of REBUILD_STEP positions.
    """
    target = db or f"file:specsvc-{uuid4().hex}-rebuild?mode=memory&cache=shared"
    # The follower builds a mapper for its leader from the same environment.
    env = {**application.env, f"{SpecProjections.name.upper()}_SQLITE_DBNAME": target}
    projections = SpecProjections(env=env)
    projections.follow(application.name, application.notification_log)
    head = application.recorder.max_notification_id() or 0
    for stop in range(REBUILD_STEP, head + REBUILD_STEP, REBUILD_STEP):
        projections.pull_and_process(application.name, stop=min(stop, head))
        if progress:
            progress(min(stop, head), head)
    projections.pull_and_process(application.name)  # anything committed meanwhile
    return projections


def check_durability(components: Components) -> None:
    """Refuse to run unless every database file is in WAL mode with synchronous=FULL."""
    for name, info in components.storage_info().items():
        if (info["journal_mode"], info["synchronous"]) != ("wal", SYNCHRONOUS_FULL):
            msg = f"the {name} store is not durable: {info}"
            raise RuntimeError(msg)
