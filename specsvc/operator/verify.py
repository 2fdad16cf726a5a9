"""``verify``: every spec replayed without snapshots, the timeline, and the read models."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import project_aggregate

from specsvc.application import SpecApplication
from specsvc.operator.common import OpenStore, Progress, no_progress
from specsvc.operator.compare import differences
from specsvc.operator.projection_diff import projection_differences
from specsvc.projections import binding_problem

PAGE = 500


def verify_store(store: OpenStore, progress: Progress = no_progress) -> dict[str, Any]:
    """Check ``store``; ``differences`` is empty when everything agrees."""
    app = store.application
    store.service.catch_up()
    spec_ids, events, found = _scan_log(app)
    for done, spec_id in enumerate(spec_ids, start=1):
        found += _replay_differences(app, spec_id)
        progress("replay", done, len(spec_ids))
    progress("projections", 0, 1)
    problem = binding_problem(store.projections, app)
    if problem is not None:
        found.append(f"projections: {problem}")
    found += projection_differences(app, store.projections.read_model)
    progress("projections", 1, 1)
    return {"specs": len(spec_ids), "events": events, "differences": found}


def verify_projections(store: OpenStore) -> dict[str, Any]:
    """Rebuild the read models from the event log and compare every row with the live ones."""
    store.service.catch_up()
    found = projection_differences(store.application, store.projections.read_model)
    return {"equal": not found, "differences": found}


def _scan_log(app: SpecApplication) -> tuple[list[UUID], int, list[str]]:
    # The timeline is written with the events and serves positions and as_of reads.
    spec_ids: dict[UUID, None] = {}
    found: list[str] = []
    events, after = 0, 0
    while page := app.recorder.select_notifications(after, PAGE, inclusive_of_start=False):
        for notification in page:
            spec_id = UUID(str(notification.originator_id))
            spec_ids[spec_id] = None
            indexed = app.timeline.position_of(spec_id, notification.originator_version)
            if indexed != notification.id:
                found.append(
                    f"timeline: event {notification.originator_version} of {spec_id} is at"
                    f" position {notification.id}, the timeline says {indexed}"
                )
        events += len(page)
        after = page[-1].id
    return list(spec_ids), events, found


def _replay_differences(app: SpecApplication, spec_id: UUID) -> list[str]:
    try:
        replayed = project_aggregate(None, app.events.get(spec_id))
        read: Any = app.repository.get(spec_id)
    except Exception as error:  # a corrupt event or snapshot is a finding, not a crash
        return [f"spec {spec_id}: cannot be read: {error}"]
    return differences(
        f"spec {getattr(replayed, 'name', spec_id)}",
        _attributes(replayed),
        _attributes(read),
        expected_by="the replay of its events",
        actual_by="the snapshot-based read",
    )


def _attributes(spec: Any) -> dict[str, Any]:
    return {key: value for key, value in vars(spec).items() if key != "_pending_events"}
