"""Opening a store for an operator command, and the errors those commands add."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from specsvc.bootstrap import Components, start
from specsvc.config import Settings
from specsvc.errors import SpecServiceError
from specsvc.service.facade import SpecService
from specsvc.spectypes import SpecTypeRegistry

# (phase, done, total): called as a long operation advances.
Progress = Callable[[str, int, int], None]


def no_progress(phase: str, done: int, total: int) -> None:
    """The default ``Progress``: report nothing."""


class StoreNotFound(SpecServiceError):
    code = "StoreNotFound"


class StoreNotEmpty(SpecServiceError):
    code = "StoreNotEmpty"


class DestinationExists(SpecServiceError):
    code = "DestinationExists"


def require_store(db: str) -> None:
    """Operator commands read existing stores; opening a missing one would create it."""
    if not os.path.isfile(db):
        raise StoreNotFound(f"no event store at {db}", details={"db": db})


def store_settings(db: str) -> Settings:
    # No poller thread: an operator command catches up explicitly, when it needs to.
    return replace(Settings.from_env(), db=db, projection_poll_interval=None)


@contextmanager
def open_store(db: str) -> Iterator[tuple[SpecService, Components]]:
    """The service over ``db`` and its parts, through the composition root."""
    settings = store_settings(db)
    components = start(settings)
    service = SpecService(components, settings, SpecTypeRegistry.load(settings.types_dir))
    try:
        yield service, components
    finally:
        service.close()


def read_only(path: str) -> sqlite3.Connection:
    """A connection that can neither create nor change ``path``."""
    return sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True)
