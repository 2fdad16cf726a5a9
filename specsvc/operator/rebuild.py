"""``rebuild-projections``: fresh read models, swapped in while a server keeps serving."""

from __future__ import annotations

from functools import partial
from typing import Any

from specsvc.errors import Unavailable
from specsvc.operator.common import OpenStore, Progress, no_progress
from specsvc.operator.projection_diff import rebuilt_projections
from specsvc.projections import binding_problem


def rebuild_read_models(store: OpenStore, progress: Progress = no_progress) -> dict[str, Any]:
    """Rebuild the read models of ``store`` from its event log; row counts before and after."""
    app, live = store.application, store.projections.read_model
    tracked = store.projections.recorder.max_tracking_id
    before = (live.row_counts(), tracked(app.name) or 0)
    foreign = binding_problem(store.projections, app) is not None
    fresh = rebuilt_projections(app, lambda done, total: progress("rebuild", done, total))
    try:
        fresh.catch_up(app.name)  # what was committed during the rebuild
        # The last few events are projected while the live read models' writers wait,
        # so the swap cannot be overtaken however busy the store is.
        finish = partial(fresh.catch_up, app.name)
        if not live.replace_with(fresh.read_model, app.name, finish=finish, force=foreign):
            raise Unavailable("the live read models moved past the rebuild; try again")
    finally:
        fresh.close()
    return {
        "before": before[0],
        "after": live.row_counts(),
        "position": {"before": before[1], "after": tracked(app.name) or 0},
    }
