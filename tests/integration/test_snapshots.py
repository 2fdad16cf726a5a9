"""Snapshots: every historical state equals a replay of the events without snapshots."""

from __future__ import annotations

from typing import Any

from specsvc.application import SNAPSHOT_INTERVAL, SpecApplication
from specsvc.bootstrap import Components
from specsvc.domainmodel import Spec, spec_id
from specsvc.service.resources import spec_resource
from tests.support.stores import make_spec

ACTOR = {"actor": "bob", "reason": "tuning"}
VERSIONS = 320


def replay_without_snapshots(app: SpecApplication, name: str, sequence: int) -> dict[str, Any]:
    spec: Any = None
    for event in app.events.get(spec_id(name), lte=sequence):
        spec = event.mutate(spec)
    assert isinstance(spec, Spec)
    return spec_resource(spec)


def test_state_at_every_version_equals_replay(file_store: Components) -> None:
    file_service, app = file_store.service, file_store.application
    make_spec(file_service, content="n: 1\n")
    for n in range(2, VERSIONS + 1):
        file_service.update_spec("demo", f"n: {n}\n", **ACTOR)
        if n % 37 == 0:
            file_service.publish_spec("demo", **ACTOR)
    snapshots = list(app.snapshots.get(spec_id("demo"))) if app.snapshots else []
    assert len(snapshots) >= (VERSIONS + VERSIONS // 37) // SNAPSHOT_INTERVAL
    for snapshot in snapshots:  # taken from the spec in hand: each is the replayed state
        taken = spec_resource(snapshot.mutate(None))
        assert taken == replay_without_snapshots(app, "demo", snapshot.originator_version)
    history = file_service.history("demo")["events"]
    content_events = [e for e in history if e["event"] != "SpecStateChanged"]
    assert [e["version"] for e in content_events] == list(range(1, VERSIONS + 1))
    for event in content_events:
        via_snapshots = file_service.get_spec("demo", version=event["version"])
        assert via_snapshots == replay_without_snapshots(app, "demo", event["sequence"])
    latest = file_service.get_spec("demo")
    assert latest == replay_without_snapshots(app, "demo", latest["revision"])
    assert latest["version"] == VERSIONS
