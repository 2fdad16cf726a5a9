"""Reading an export file: one JSON object per line, checked before anything is written."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from specsvc.errors import BadRequest
from specsvc.operator.export import encode_state

FIELDS: dict[str, type | tuple[type, ...]] = {
    "position": int,
    "originator_id": str,
    "originator_version": int,
    "topic": str,
    "state": (dict, str),
}


def parse_records(lines: Iterable[bytes]) -> list[dict[str, Any]]:
    """The records of an export, in order; BadRequest names the first bad line."""
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = _record(number, line)
        if records and record["position"] <= records[-1]["position"]:
            raise BadRequest(f"line {number}: positions must increase")
        records.append(record)
    return records


def stored_event(record: dict[str, Any]) -> StoredEvent:
    """The record as the recorder stores it: the state's exact bytes back."""
    state = record["state"]
    raw = encode_state(state) if isinstance(state, dict) else base64.b64decode(state)
    return StoredEvent(
        originator_id=UUID(record["originator_id"]),
        originator_version=record["originator_version"],
        topic=record["topic"],
        state=raw,
    )


def _record(number: int, line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as error:
        raise BadRequest(f"line {number}: not JSON: {error}") from None
    if not isinstance(record, dict) or set(record) != set(FIELDS):
        raise BadRequest(f"line {number}: expected an object with {', '.join(FIELDS)}")
    for field, kind in FIELDS.items():
        value = record[field]
        if isinstance(value, bool) or not isinstance(value, kind):
            raise BadRequest(f"line {number}: {field} has the wrong type")
    if record["position"] < 1 or record["originator_version"] < 1:
        raise BadRequest(f"line {number}: position and originator_version start at 1")
    try:
        UUID(record["originator_id"])
        if isinstance(record["state"], str):
            base64.b64decode(record["state"], validate=True)
    except (ValueError, binascii.Error) as error:
        raise BadRequest(f"line {number}: {error}") from None
    return record
