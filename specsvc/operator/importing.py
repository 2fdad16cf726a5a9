"""``import``: an exported log into an empty store, then proof that it arrived intact."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from specsvc.application import SNAPSHOT_INTERVAL, SpecApplication, timeline_entry
from specsvc.domainmodel import Spec
from specsvc.errors import BadRequest, ConfigurationError, StoreNotEmpty
from specsvc.operator.common import OpenStore, Progress, no_progress
from specsvc.operator.import_check import log_differences, view_differences
from specsvc.operator.records import chain_problems, stored_event
from specsvc.persistence.interfaces import PositionedEvent
from specsvc.persistence.sealing import KEY_FILE, CipherKeyError, check_key
from specsvc.projections import replay

BATCH = 500


@dataclass(frozen=True)
class Incoming:
    position: int
    stored: StoredEvent
    event: Spec.Event


def import_events(
    store: OpenStore, records: list[dict[str, Any]], progress: Progress = no_progress
) -> dict[str, Any]:
    """Insert an export's records (``records.parse_records``) into the empty ``store``;
    ``differences`` lists any mismatch."""
    app = store.application
    if app.recorder.max_notification_id() or store.service.projected_position():
        raise StoreNotEmpty("the store already holds events; import only into an empty store")
    if records:  # an export read with the wrong key, or none, is a setting to fix
        newest = stored_event(records[-1])
        try:
            check_key(newest, app.mapper.cipher, app.env.get(KEY_FILE), "the export")
        except CipherKeyError as error:
            raise ConfigurationError(str(error)) from None
    broken = chain_problems(records, app.recorder.chain)  # type: ignore[attr-defined]
    if broken:
        raise BadRequest(
            f"the export's hash chain is broken ({len(broken)} problems): {broken[0]};"
            " nothing imported",
            details={"problems": broken[:100]},
        )
    incoming = [_decode(app, record) for record in records]  # all of it, before writing
    _check_sequences(incoming)
    _insert(app, incoming, progress)
    replay(store.projections, app, lambda done, total: progress("project", done, total))
    take_snapshots(app, {i.event.originator_id: i.event.originator_version for i in incoming})
    positioned = [(item.position, item.event) for item in incoming]
    found = log_differences(app, records) + view_differences(store.service, positioned)
    specs = len({item.stored.originator_id for item in incoming})
    return {"events": len(records), "specs": specs, "differences": found}


def _decode(app: SpecApplication, record: dict[str, Any]) -> Incoming:
    stored = stored_event(record)
    return Incoming(record["position"], stored, spec_event(app, record["position"], stored))


def spec_event(app: SpecApplication, position: int, stored: StoredEvent) -> Spec.Event:
    """The spec event ``stored`` holds; BadRequest names its position if it holds none."""
    try:
        event = app.mapper.to_domain_event(stored)
    except Exception as error:  # an unknown topic or a state that does not fit it
        raise BadRequest(f"event at position {position}: {error}") from None
    if not isinstance(event, Spec.Event):
        raise BadRequest(f"event at position {position} is not a spec event")
    return event


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
    # Through the event store's interface, so the spec timeline is written with each event.
    for start in range(0, len(incoming), BATCH):
        batch = incoming[start : start + BATCH]
        app.timeline.insert_at_positions(
            [PositionedEvent(i.position, i.stored, timeline_entry(i.event)) for i in batch]
        )
        progress("import", min(start + BATCH, len(incoming)), len(incoming))


def take_snapshots(app: SpecApplication, latest: dict[UUID, int]) -> None:
    """The snapshot reads would have used, had the events been written here: for each
    spec (its id and its last sequence number in ``latest``), at the last multiple of
    the snapshot interval."""
    for spec_id, version in latest.items():
        if version >= SNAPSHOT_INTERVAL:
            app.take_snapshot(spec_id, version=version - version % SNAPSHOT_INTERVAL)
