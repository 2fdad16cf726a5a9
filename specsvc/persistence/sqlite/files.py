"""The files of an embedded store: where they are, and a consistent online copy of them.

A store is the event store's file (``specs.db``) and the read models' file beside it
(``specs.projections.db``): the library's SQLite tables are not prefixed by application
name, so each application needs a database of its own.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path


def projections_path(db: str) -> str:
    """The projections' file beside the event store: ``a.db`` -> ``a.projections.db``."""
    base, ext = os.path.splitext(db)
    return f"{base}.projections{ext or '.db'}"


def store_files(db: str) -> list[str]:
    """The store's files in the order a backup copies them: projections, then events.

    The events copied after the projections are then a superset of what the copied
    projections hold, and those catch up when the copy is opened. The other order could
    leave read models describing events that the copied log lacks.
    """
    return [projections_path(db), db]


def store_exists(db: str) -> bool:
    """Is there an event store at ``db``? (Opening one that is not there would create it.)"""
    return os.path.isfile(db)


def remove_leftovers(db: str) -> list[str]:
    """Temporary files that earlier versions' interrupted rebuilds left beside the store."""
    folder = Path(db).absolute().parent
    removed = []
    for leftover in folder.glob("tmp*.rebuild.db"):
        leftover.unlink(missing_ok=True)
        removed.append(str(leftover))
    return removed


def read_only(path: str) -> sqlite3.Connection:
    """A connection that can neither create nor change ``path``."""
    return sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True)


def copy_database(source: str, target: str) -> None:
    """A consistent copy of ``source`` at ``target``, while other processes write to it.

    A plain file copy of a WAL database misses the commits still in its ``-wal`` file;
    SQLite's backup API reads one consistent snapshot instead.
    """
    with closing(read_only(source)) as src, closing(sqlite3.connect(target)) as dst:
        # All pages in one step: one read snapshot, and writers are not blocked (WAL).
        # Copying in several steps would restart whenever another process commits.
        src.backup(dst)
