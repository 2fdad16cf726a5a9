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
from specsvc.persistence.chain import GENESIS, Chain, Link

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


def _check_link(number: int, link: Any) -> None:
    previous = link.get("previous") if isinstance(link, dict) else None
    digest = link.get("hash") if isinstance(link, dict) else None
    try:
        valid = set(link) == {"previous", "hash"} and len(bytes.fromhex(str(digest))) == 32
    except (TypeError, ValueError):
        valid = False
    if not valid or isinstance(previous, bool) or not isinstance(previous, int) or previous < 0:
        raise BadRequest(f"line {number}: chain must be {{previous: position, hash: 64 hex}}")


def chain_problems(records: list[dict[str, Any]], chain: Chain) -> list[str]:
    """Where the export's own hash chain is broken (empty when it holds or is absent:
    an export written before the chain existed is chained anew on import)."""
    if not any("chain" in record for record in records):
        return []
    found: list[str] = []
    previous, previous_hash = 0, GENESIS
    for record in records:
        position = record["position"]
        link = record.get("chain")
        if link is None:
            found.append(f"position {position}: inserted: the export has no chain link")
            continue
        stored = Link(position, link["previous"], bytes.fromhex(link["hash"]))
        if stored.previous != previous:
            found.append(
                f"position {position}: chains to position {stored.previous}, not to"
                f" {previous} before it in the export (deleted or reordered)"
            )
        elif not chain.matches(stored, previous_hash, stored_event(record)):
            found.append(
                f"position {position}: edited: does not match its chain hash (or the"
                " export was chained with another key than SPECSVC_CHAIN_KEY_FILE's)"
            )
        previous, previous_hash = position, stored.hash
    return found


def _record(number: int, line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as error:
        raise BadRequest(f"line {number}: not JSON: {error}") from None
    if not isinstance(record, dict) or set(record) - {"chain"} != set(FIELDS):
        raise BadRequest(
            f"line {number}: expected an object with {', '.join(FIELDS)} (and chain)"
        )
    if "chain" in record:
        _check_link(number, record["chain"])
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
