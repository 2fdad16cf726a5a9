"""The composition root: settings and a role in, running components out.

Only entry points import this module: the command line (``specsvc serve`` and the
operator commands), ``SpecService.open()``, and tests that need the parts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

from specsvc.application import SpecApplication
from specsvc.config import Settings
from specsvc.errors import StoreNotFound
from specsvc.persistence.sqlite.datastore import check_durable
from specsvc.persistence.sqlite.factory import library_env
from specsvc.persistence.sqlite.files import remove_leftovers, store_exists
from specsvc.projections import SpecProjections
from specsvc.runners.embedded import EmbeddedRunner
from specsvc.service import SpecService
from specsvc.spectypes import SpecTypeRegistry
from specsvc.system import spec_system

logger = logging.getLogger(__name__)


class Role(Enum):
    """What a process does with the store."""

    # An API process, or the Python API, on the embedded store: projections run here, in
    # step with writes, and (with a poll interval set) a poller picks up what other
    # processes commit.
    EMBEDDED = "embedded"
    # A one-off command (operator tools, status, the Python API): projections run here
    # when it writes or asks to catch up; no poller.
    TOOL = "tool"
    # An operator command that must see the store as it is: nothing is projected on start.
    MAINTENANCE = "maintenance"


@dataclass
class Components:
    """The running parts of a store, for entry points that need more than the service."""

    settings: Settings
    runner: EmbeddedRunner
    application: SpecApplication
    projections: SpecProjections
    service: SpecService


def env_for(settings: Settings) -> dict[str, str]:
    """The ``eventsourcing`` environment of the store that ``settings`` name."""
    return library_env(
        SpecApplication.name, SpecProjections.name, settings.db, settings.sqlite_lock_timeout
    )


def start(settings: Settings, role: Role = Role.EMBEDDED) -> Components:
    """Start the system; projections catch up before this returns (but in maintenance)."""
    if settings.db is not None:
        for leftover in remove_leftovers(settings.db):
            logger.info("removed %s, left by an interrupted rebuild", leftover)
    poll = settings.projection_poll_interval if role is Role.EMBEDDED else None
    runner = EmbeddedRunner(
        spec_system,
        env=env_for(settings),
        poll_interval=poll,
        catch_up_on_start=role is not Role.MAINTENANCE,
        repair_read_models=role is Role.EMBEDDED,
    )
    runner.start()
    application = runner.get(SpecApplication)
    projections = runner.get(SpecProjections)
    try:
        types = SpecTypeRegistry.load(settings.types_dir)
        service = SpecService(application, projections.read_model, types, settings, runner)
        if settings.db is not None:
            check_durability(service)
    except Exception:
        runner.stop()
        raise
    return Components(settings, runner, application, projections, service)


def open_existing(settings: Settings, role: Role = Role.TOOL) -> Components:
    """Like ``start``, but refuse a store that does not exist rather than create it."""
    if settings.db is None or not store_exists(settings.db):
        raise StoreNotFound(f"no event store at {settings.db}", details={"db": settings.db})
    return start(settings, role)


def check_durability(service: SpecService) -> None:
    """Refuse to run unless every database file is in WAL mode with synchronous=FULL."""
    for name, described in service.storage_info().items():
        check_durable(name, described)
