"""After an import: the store's log, states, versions and histories against the file's."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import zip_longest
from typing import Any
from uuid import UUID

from eventsourcing.system import Leader

from specsvc.operator.compare import differences
from specsvc.operator.expected import LoggedEvent, expected_views
from specsvc.operator.export import log_records
from specsvc.operator.records import stored_event
from specsvc.service import SpecService


def log_differences(
    app: Leader[UUID],
    records: Iterable[dict[str, Any]],
    *,
    expected_by: str = "the file",
    actual_by: str = "the store",
) -> list[str]:
    """Export the store again and compare it with ``records``, event by event."""
    found: list[str] = []
    exported = (record for record, _ in log_records(app.recorder))
    for index, (want, have) in enumerate(zip_longest(records, exported)):
        label = f"event {index + 1} of the log"
        if want is not None and have is not None and "chain" not in want:
            have = {key: value for key, value in have.items() if key != "chain"}
        found += differences(
            label, _stored(want), _stored(have), expected_by=expected_by, actual_by=actual_by
        )
    return found


def _stored(record: dict[str, Any] | None) -> dict[str, Any] | None:
    # As stored: a state may be written as an object or as base64 of the same bytes.
    if record is None:
        return None
    link = {"chain": record["chain"]} if "chain" in record else {}
    return {"position": record["position"], **vars(stored_event(record)), **link}


def view_differences(service: SpecService, events: list[LoggedEvent]) -> list[str]:
    """Every spec's state, versions and history against what its events say."""
    by_spec: dict[UUID, list[LoggedEvent]] = {}
    for position, event in events:
        by_spec.setdefault(event.originator_id, []).append((position, event))
    found: list[str] = []
    for spec_events in by_spec.values():
        expected = expected_views(spec_events)
        name = expected["state"]["name"]
        actual = {
            "state": service.get_spec(name),
            "versions": service.list_versions(name)["versions"],
            "history": service.history(name)["events"],
        }
        found += differences(name, expected, actual, expected_by="the file", actual_by="the store")
    return found
