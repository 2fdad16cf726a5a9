"""``import``: an exported log into an empty store, then proof that it arrived intact."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from specsvc.application import SNAPSHOT_INTERVAL, SpecApplication
from specsvc.bootstrap import Components
from specsvc.domainmodel import Spec
from specsvc.errors import BadRequest
from specsvc.operator.expected import timeline_entry
from specsvc.operator.import_check import log_differences, view_differences
from specsvc.operator.records import parse_records, stored_event
from specsvc.operator.store import Progress, StoreNotEmpty, no_progress, open_store
from specsvc.persistence.sqlite.factory import SpecEventRecorder
from specsvc.service.facade import SpecService

BATCH = 500


@dataclass(frozen=True)
class Incoming:
    position: int
    stored: StoredEvent
    event: Spec.Event


def import_events(
    db: str, lines: Iterable[bytes], progress: Progress = no_progress
) -> dict[str, Any]:
    """Insert an export into the empty store ``db``; ``differences`` lists any mismatch."""
    records = parse_records(lines)
    with open_store(db) as (service, components):
        app = components.application
        _require_empty(db, service, app)
        incoming = [_decode(app, record) for record in records]  # all of it, before writing
        _check_sequences(incoming)
        _insert(app, incoming, progress)
        _project(components, incoming[-1].position if incoming else 0, progress)
        _snapshot(app, incoming)
        positioned = [(item.position, item.event) for item in incoming]
        found = log_differences(db, records) + view_differences(service, positioned)
    specs = len({item.stored.originator_id for item in incoming})
    return {"db": db, "events": len(records), "specs": specs, "differences": found}


def _require_empty(db: str, service: SpecService, app: SpecApplication) -> None:
    if app.recorder.max_notification_id() or service.projected_position():
        raise StoreNotEmpty(f"{db} already holds events; import only into an empty store")


def _decode(app: SpecApplication, record: dict[str, Any]) -> Incoming:
    stored = stored_event(record)
    try:
        event = app.mapper.to_domain_event(stored)
    except Exception as error:  # an unknown topic or a state that does not fit it
        raise BadRequest(f"event at position {record['position']}: {error}") from None
    if not isinstance(event, Spec.Event):
        raise BadRequest(f"event at position {record['position']} is not a spec event")
    return Incoming(record["position"], stored, event)


def _check_sequences(incoming: list[Incoming]) -> None:
    # The projections need every spec to start with SpecCreated and to have no holes.
    last: dict[UUID, int] = {}
    for item in incoming:
        event = item.event
        expected = last.get(event.originator_id, 0) + 1
        first_is_created = expected > 1 or isinstance(event, Spec.SpecCreated)
        if event.originator_version != expected or not first_is_created:
            raise BadRequest(
                f"event at position {item.position}: spec {event.originator_id} expects"
                f" event {expected}{'' if expected > 1 else ' (SpecCreated)'} next"
            )
        last[event.originator_id] = expected


def _insert(app: SpecApplication, incoming: list[Incoming], progress: Progress) -> None:
    # Through the application's recorder, so the spec timeline is written with each event.
    recorder = cast(SpecEventRecorder, app.recorder)
    last = 0
    for start in range(0, len(incoming), BATCH):
        with recorder.datastore.transaction(commit=True) as cursor:
            for item in incoming[start : start + BATCH]:
                _insert_at(recorder, cursor, item, gap=item.position > last + 1)
                last = item.position
        progress("import", min(start + BATCH, len(incoming)), len(incoming))


def _insert_at(recorder: SpecEventRecorder, cursor: Any, item: Incoming, *, gap: bool) -> None:
    # SQLite gives a new row MAX(rowid) + 1: a placeholder just below the wanted position
    # reproduces a gap in the exported log, and goes again once the event is in.
    if gap:
        cursor.execute(
            "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state)"
            " VALUES (?, '', 0, '', x'')",
            (item.position - 1,),
        )
    positions = recorder._insert_events(
        cursor, [item.stored], spec_timeline=[timeline_entry(item.event)]
    )
    if gap:
        cursor.execute("DELETE FROM stored_events WHERE rowid=?", (item.position - 1,))
    assert list(positions or ()) == [item.position], f"inserted at {positions}, not {item.position}"


def _project(components: Components, head: int, progress: Progress) -> None:
    leader = components.application.name
    for stop in range(BATCH, head + BATCH, BATCH):
        components.projections.pull_and_process(leader, stop=min(stop, head))
        progress("project", min(stop, head), head)


def _snapshot(app: SpecApplication, incoming: list[Incoming]) -> None:
    # The snapshot reads would have used, had the events been written here.
    latest: dict[UUID, int] = {}
    for item in incoming:
        latest[item.event.originator_id] = item.event.originator_version
    for spec_id, version in latest.items():
        if version >= SNAPSHOT_INTERVAL:
            app.take_snapshot(spec_id, version=version - version % SNAPSHOT_INTERVAL)
