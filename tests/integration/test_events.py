"""The stored events: exactly three classes, their metadata, and old shapes upcast."""

from __future__ import annotations

import json

from specsvc.bootstrap import Components
from specsvc.domainmodel import Spec, spec_id
from tests.support.stores import make_spec


def stored_events(store: Components, name: str) -> list[Spec.Event]:
    return list(store.application.events.get(spec_id(name)))


def test_events_are_the_three_documented_classes_with_metadata(store: Components) -> None:
    service = store.service
    make_spec(service, reason="start")
    service.update_spec("demo", "a: 2\n", actor="bob", reason="edit", correlation_id="c-2")
    service.publish_spec("demo", actor="carol", reason="ship", correlation_id="c-3")
    events = stored_events(store, "demo")
    assert [type(e).__name__ for e in events] == ["SpecCreated", "SpecUpdated", "SpecStateChanged"]
    assert all(isinstance(e, Spec.Event) for e in events)
    created, updated, changed = events
    assert (created.name, created.type, created.content, created.reason) == (
        "demo",
        "generic",
        "a: 1\n",
        "start",
    )
    assert (updated.content, updated.version, updated.actor, updated.correlation_id) == (
        "a: 2\n",
        2,
        "bob",
        "c-2",
    )
    assert (changed.from_state, changed.to_state, changed.published_version) == (
        "draft",
        "published",
        2,
    )
    assert [e.originator_version for e in events] == [1, 2, 3]
    assert all(e.timestamp.utcoffset().total_seconds() == 0 for e in events)  # type: ignore[union-attr]


def test_event_topics_are_stable_module_paths(file_store: Components) -> None:
    make_spec(file_store.service)
    app = file_store.application
    topics = {n.topic for n in app.recorder.select_notifications(start=1, limit=10)}
    assert topics == {"specsvc.domainmodel:Spec.SpecCreated"}


def test_a_version_1_spec_created_event_still_loads(file_store: Components) -> None:
    """SpecCreated v1 had no ``reason``; the upcaster supplies None."""
    file_service, app = file_store.service, file_store.application
    legacy = Spec(
        name="legacy",
        type="generic",
        content="old: true\n",
        actor="ops",
        correlation_id="c",
        reason=None,
    )
    (event,) = legacy.collect_events()
    stored = app.mapper.to_stored_event(event)
    state = json.loads(stored.state)
    assert state.pop("class_version") == 2
    del state["reason"]
    old_shape = type(stored)(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=json.dumps(state, separators=(",", ":")).encode(),
    )
    app.recorder.insert_events([old_shape], spec_timeline=app_timeline(event))
    file_service.catch_up()
    spec = file_service.get_spec("legacy")
    assert (spec["content"], spec["created_by"], spec["version"]) == ("old: true\n", "ops", 1)
    assert file_service.history("legacy")["events"][0]["reason"] is None
    file_service.update_spec("legacy", "old: false\n", actor="ops", reason="still writable")
    assert file_service.get_spec("legacy", version=1)["content"] == "old: true\n"


def app_timeline(event: Spec.Event) -> list:
    from specsvc.persistence.interfaces import TimelineEntry

    return [TimelineEntry(event.originator_id, event.originator_version, event.timestamp, 1)]
