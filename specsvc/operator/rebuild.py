"""``rebuild-projections``: fresh read models, swapped in while a server keeps serving."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any
from uuid import uuid4

from specsvc.application import SpecApplication
from specsvc.bootstrap import library_env, projections_path, rebuild_projections
from specsvc.errors import Unavailable
from specsvc.operator.store import Progress, no_progress, require_store, store_settings
from specsvc.operator.swap import row_counts, swap_in, tracked_position
from specsvc.projections import SpecProjections

SWAP_ATTEMPTS = 10


def rebuild_read_models(db: str, progress: Progress = no_progress) -> dict[str, Any]:
    """Rebuild the projections of ``db`` from its event log; row counts before and after."""
    require_store(db)
    settings = store_settings(db)
    env = library_env(settings)
    live = projections_path(db)
    SpecProjections(env=env).close()  # the live tables exist before they are counted
    before = (row_counts(live), tracked_position(live, SpecApplication.name))
    app = SpecApplication(env=env)
    target = f"file:specsvc-{uuid4().hex}-rebuild?mode=memory&cache=shared"
    fresh = rebuild_projections(app, target, lambda done, total: progress("rebuild", done, total))
    try:
        _swap(app, fresh, target, live, settings.sqlite_lock_timeout)
    finally:
        fresh.close()
        app.close()
    return {
        "db": db,
        "before": before[0],
        "after": row_counts(live),
        "position": {"before": before[1], "after": tracked_position(live, app.name)},
    }


def _swap(
    app: SpecApplication, fresh: SpecProjections, target: str, live: str, timeout: int
) -> None:
    # If a running server projected past the fresh model meanwhile: catch up, try again.
    for _ in range(SWAP_ATTEMPTS):
        fresh.pull_and_process(app.name)
        with _file_copy(target, os.path.dirname(os.path.abspath(live))) as path:
            if swap_in(live, path, app.name, timeout):
                return
    raise Unavailable("the live projections kept moving ahead of the rebuild; try again")


@contextmanager
def _file_copy(source: str, directory: str) -> Iterator[str]:
    # Beside the live file, so that ATTACH reads it from the same disk.
    handle, path = tempfile.mkstemp(suffix=".rebuild.db", dir=directory)
    os.close(handle)
    try:
        with (
            closing(sqlite3.connect(source, uri=True)) as src,
            closing(sqlite3.connect(path)) as dst,
        ):
            src.backup(dst)
        yield path
    finally:
        os.remove(path)
