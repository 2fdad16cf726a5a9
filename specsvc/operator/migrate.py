"""``migrate``: a store copied into an empty one on another backend, then proof that the
copy is the same store (docs/behaviour.md, Moving a store to PostgreSQL).

The events go in one transaction, streamed in batches from the source's log: an
interruption commits none of them. The copy takes the source's identity and its
idempotency answers in that same transaction, so the read models built afterwards are
bound to it, the projection worker carries on from the copied position, and a retry
that crosses the move gets its original answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from specsvc.application import SpecApplication, timeline_entry
from specsvc.errors import StoreCorrupted, StoreNotEmpty
from specsvc.operator.chain_check import walk_chain
from specsvc.operator.common import OpenStore, Progress, no_progress
from specsvc.operator.export import log_notifications
from specsvc.operator.importing import spec_event, take_snapshots
from specsvc.operator.migrate_check import copy_differences
from specsvc.operator.rebuild import rebuild_read_models
from specsvc.persistence.interfaces import PositionedEvent

BATCH = 500


def migrate_store(
    source: OpenStore, target: OpenStore, progress: Progress = no_progress
) -> dict[str, Any]:
    """Copy ``source`` into the empty ``target`` and compare the two; ``differences`` is
    empty when the copy answers exactly as the original."""
    refuse_unless_empty(target)
    src, dst = source.application, target.application
    broken, _ = walk_chain(src.recorder, src.recorder.chain)  # type: ignore[attr-defined]
    if broken:
        first = broken[0]
        raise StoreCorrupted(
            f"the source's hash chain is broken at position {first.position} ({first.kind}:"
            f" {first.detail}; {len(broken)} problems): run specsvc verify on it; nothing"
            " copied",
            details={"position": first.position, "kind": first.kind},
        )
    store_id = src.timeline.store_id()
    # Empty read models, already bound to the identity the copy is about to take.
    target.projections.read_model.reset(store_id, dst.name)
    began = time.monotonic()
    latest: dict[UUID, int] = {}
    try:
        dst.timeline.insert_at_positions(
            _copied(src, latest, progress), store_id=store_id, answers=src.timeline.remembered()
        )
    except IntegrityError as error:  # another copy into the same target got there first
        raise StoreNotEmpty(f"the target filled up during the copy: {error}") from None
    copied = time.monotonic()
    take_snapshots(dst, latest)
    rebuild_read_models(target, progress)
    built = time.monotonic()
    report = copy_differences(source, target, progress)
    checked = time.monotonic()
    events = report["events"]
    return {
        **report,
        "store_id": store_id,
        "seconds": {
            "copy": round(copied - began, 3),
            "read_models": round(built - copied, 3),
            "verify": round(checked - built, 3),
        },
        "events_per_second": round(events / (copied - began)) if events else 0,
    }


def refuse_unless_empty(target: OpenStore) -> None:
    """StoreNotEmpty unless ``target`` holds no event, read-model row or tracking record."""
    app, projections = target.application, target.projections
    events = app.recorder.max_notification_id() or 0
    tracked = projections.recorder.max_tracking_id(app.name) or 0
    rows = sum(projections.read_model.row_counts().values())
    if events or tracked or rows:
        raise StoreNotEmpty(
            f"the target already holds {events} events and {rows} read-model rows; migrate"
            " only into an empty database (an interrupted migrate leaves none), or compare"
            " an earlier copy with its source: specsvc migrate --verify-only",
            details={"events": events, "read_model_rows": rows, "tracked": tracked},
        )


def _copied(
    src: SpecApplication, latest: dict[UUID, int], progress: Progress
) -> Iterator[PositionedEvent]:
    # Read lazily, inside the target's transaction: the log as it stood when it began.
    for done, (notification, head) in enumerate(log_notifications(src.recorder), start=1):
        stored = StoredEvent(
            originator_id=UUID(str(notification.originator_id)),
            originator_version=notification.originator_version,
            topic=notification.topic,
            state=notification.state,
        )
        event = spec_event(src, notification.id, stored)
        latest[event.originator_id] = event.originator_version
        yield PositionedEvent(notification.id, stored, timeline_entry(event))
        if done % BATCH == 0 or notification.id == head:
            progress("copy", notification.id, head)
