"""``backup``: a consistent online copy of an embedded store, through SQLite's backup API."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from typing import Any

from specsvc.errors import DestinationExists, StoreNotFound
from specsvc.persistence.sqlite.files import copy_database, read_only, store_files

Progress = Callable[[str, int, int], None]


def backup(db: str, dest: str, progress: Progress | None = None) -> dict[str, Any]:
    """Copy the event store ``db`` and its projections to ``dest``, while writers run."""
    if not os.path.isfile(db):
        raise StoreNotFound(f"no event store at {db}", details={"db": db})
    pairs = list(zip(store_files(db), store_files(dest), strict=True))
    for _, target in pairs:
        if os.path.exists(target):
            raise DestinationExists(f"{target} exists; remove it or choose another name")
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    files = []
    for step, (source, target) in enumerate(pairs, start=1):
        if os.path.isfile(source):
            copy_database(source, target)
            files.append({"source": source, "path": target, "bytes": os.path.getsize(target)})
        if progress:
            progress("backup", step, len(pairs))
    events, position = _log_facts(dest)
    return {"db": db, "dest": dest, "events": events, "position": position, "files": files}


def _log_facts(db: str) -> tuple[int, int]:
    with closing(read_only(db)) as connection:
        try:
            count, last = connection.execute(
                "SELECT COUNT(*), MAX(rowid) FROM stored_events"
            ).fetchone()
        except sqlite3.OperationalError:  # a store that was never opened has no tables
            return 0, 0
    return int(count), int(last or 0)
