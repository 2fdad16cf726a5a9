"""``backup``: a consistent online copy of a store, through SQLite's backup API."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from typing import Any

from specsvc.bootstrap import projections_path
from specsvc.operator.store import (
    DestinationExists,
    Progress,
    no_progress,
    read_only,
    require_store,
)


def backup(db: str, dest: str, progress: Progress = no_progress) -> dict[str, Any]:
    """Copy the event store ``db`` and its projections to ``dest``, while writers run.

    A plain file copy of a WAL database misses the commits still in its ``-wal`` file;
    the backup API reads one consistent snapshot of each database instead.
    """
    require_store(db)
    # Projections first: the events copied after them are then a superset of what they
    # hold, and the copy's projections catch up when it is opened. The other order
    # could leave read models describing events that the copied log lacks.
    pairs = [(projections_path(db), projections_path(dest)), (db, dest)]
    for _, target in pairs:
        if os.path.exists(target):
            raise DestinationExists(f"{target} exists; remove it or choose another name")
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    files = []
    for step, (source, target) in enumerate(pairs, start=1):
        if os.path.isfile(source):
            _copy(source, target)
            files.append({"source": source, "path": target, "bytes": os.path.getsize(target)})
        progress("backup", step, len(pairs))
    events, position = _log_facts(dest)
    return {"db": db, "dest": dest, "events": events, "position": position, "files": files}


def _copy(source: str, target: str) -> None:
    with closing(read_only(source)) as src, closing(sqlite3.connect(target)) as dst:
        # All pages in one step: one read snapshot, and writers are not blocked (WAL).
        # Copying in several steps would restart whenever another process commits.
        src.backup(dst)


def _log_facts(db: str) -> tuple[int, int]:
    with closing(read_only(db)) as connection:
        try:
            count, last = connection.execute(
                "SELECT COUNT(*), MAX(rowid) FROM stored_events"
            ).fetchone()
        except sqlite3.OperationalError:  # a store that was never opened has no tables
            return 0, 0
    return int(count), int(last or 0)
