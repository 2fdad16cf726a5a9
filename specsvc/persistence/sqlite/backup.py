"""``backup``: a consistent online copy of an embedded store, through SQLite's backup API.

Each file is copied to a temporary name beside its destination, checked, and renamed
into place only when complete, so an interrupted backup never leaves a partial file
under the final name. The event store is renamed last: its arrival completes a backup.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from typing import Any

from specsvc.errors import DestinationExists, StoreNotFound
from specsvc.persistence.sqlite.files import copy_database, store_files

Progress = Callable[[str, int, int], None]
PARTIAL = ".partial"


def backup(
    db: str, dest: str, progress: Progress | None = None, *, force: bool = False
) -> dict[str, Any]:
    """Copy the event store ``db`` and its projections to ``dest``, while writers run."""
    if not os.path.isfile(db):
        raise StoreNotFound(f"no event store at {db}", details={"db": db})
    if os.path.exists(dest) and not force:
        raise DestinationExists(
            f"{dest} exists; choose another name, or add --force to replace it",
            details={"dest": dest},
        )
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    pairs = [(s, t) for s, t in zip(store_files(db), store_files(dest), strict=True)]
    copies = []
    for step, (source, target) in enumerate(pairs, start=1):
        if os.path.isfile(source):
            copies.append((source, target, _checked_copy(source, target + PARTIAL)))
        if progress:
            progress("backup", step, len(pairs))
    files = []
    for source, target, size in copies:  # projections first, the event store last
        os.replace(target + PARTIAL, target)
        files.append({"source": source, "path": target, "bytes": size})
    events, position = _log_facts(dest)
    return {"db": db, "dest": dest, "events": events, "position": position, "files": files}


def _checked_copy(source: str, partial: str) -> int:
    for leftover in (partial, partial + "-wal", partial + "-shm"):
        if os.path.exists(leftover):
            os.remove(leftover)  # what an interrupted backup left behind
    copy_database(source, partial)
    with closing(sqlite3.connect(partial)) as connection:
        # A backup is one self-contained file: no -wal or -shm beside it. A server
        # started on it switches it back to WAL.
        connection.execute("PRAGMA journal_mode=DELETE")
        (verdict,) = connection.execute("PRAGMA quick_check").fetchone()
    if verdict != "ok":
        os.remove(partial)
        raise sqlite3.DatabaseError(f"the copy of {source} does not check out: {verdict}")
    return os.path.getsize(partial)


def _log_facts(db: str) -> tuple[int, int]:
    with closing(sqlite3.connect(db)) as connection:  # not read-only: that leaves -shm behind
        try:
            count, last = connection.execute(
                "SELECT COUNT(*), MAX(rowid) FROM stored_events"
            ).fetchone()
        except sqlite3.OperationalError:  # a store that was never opened has no tables
            return 0, 0
    return int(count), int(last or 0)
