"""``export``: every stored event as JSON Lines, in log order."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import closing
from typing import Any, BinaryIO
from uuid import UUID

from specsvc.operator.store import Progress, no_progress, read_only, require_store

PROGRESS_EVERY = 1000


def export_events(db: str, out: BinaryIO, progress: Progress = no_progress) -> int:
    """Write one JSON object per stored event to ``out``; return how many."""
    require_store(db)
    count = 0
    for count, (record, total) in enumerate(log_records(db), start=1):
        out.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
        if count % PROGRESS_EVERY == 0 or count == total:
            progress("export", count, total)
    out.flush()
    return count


def log_records(db: str) -> Iterator[tuple[dict[str, Any], int]]:
    """``(record, total)`` for each stored event, all read from one snapshot of the log."""
    with closing(read_only(db)) as connection:
        connection.execute("BEGIN")
        (total,) = connection.execute("SELECT COUNT(*) FROM stored_events").fetchone()
        rows = connection.execute(
            "SELECT rowid, originator_id, originator_version, topic, state"
            " FROM stored_events ORDER BY rowid"
        )
        for position, originator_id, version, topic, state in rows:
            yield to_record(position, originator_id, version, topic, state), total
        connection.rollback()


def to_record(
    position: int, originator_id: str, version: int, topic: str, state: bytes | str
) -> dict[str, Any]:
    return {
        "position": position,
        "originator_id": _uuid_text(originator_id),
        "originator_version": version,
        "topic": topic,
        "state": _state(state if isinstance(state, bytes) else state.encode("utf-8")),
    }


def encode_state(state: dict[str, Any]) -> bytes:
    """A state object as the library's JSON transcoder writes it: compact UTF-8."""
    return json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _state(raw: bytes) -> Any:
    # An object only when encoding it again gives back the very bytes stored, so that an
    # import restores them exactly; anything else travels as base64.
    try:
        decoded = json.loads(raw)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and encode_state(decoded) == raw:
        return decoded
    return base64.b64encode(raw).decode("ascii")


def _uuid_text(originator_id: str) -> str:
    try:
        return str(UUID(originator_id))
    except ValueError:
        return originator_id
