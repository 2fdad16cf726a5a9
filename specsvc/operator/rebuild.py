"""``rebuild-projections``: fresh read models, swapped in while a server keeps serving."""

from __future__ import annotations

from typing import Any

from specsvc.errors import Unavailable
from specsvc.operator.common import OpenStore, Progress, no_progress
from specsvc.operator.projection_diff import rebuilt_projections

SWAP_ATTEMPTS = 10


def rebuild_read_models(store: OpenStore, progress: Progress = no_progress) -> dict[str, Any]:
    """Rebuild the read models of ``store`` from its event log; row counts before and after."""
    app, live = store.application, store.projections.read_model
    tracked = store.projections.recorder.max_tracking_id
    before = (live.row_counts(), tracked(app.name) or 0)
    fresh = rebuilt_projections(app, lambda done, total: progress("rebuild", done, total))
    try:
        # If a running server projected past the fresh model meanwhile: catch up, try again.
        for _ in range(SWAP_ATTEMPTS):
            fresh.pull_and_process(app.name)
            if live.replace_with(fresh.read_model, app.name):
                break
        else:
            raise Unavailable("the live projections kept moving ahead of the rebuild; try again")
    finally:
        fresh.close()
    return {
        "before": before[0],
        "after": live.row_counts(),
        "position": {"before": before[1], "after": tracked(app.name) or 0},
    }
