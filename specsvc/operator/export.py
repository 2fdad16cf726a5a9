"""``export``: every stored event as JSON Lines, in log order."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any, BinaryIO
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification

from specsvc.operator.common import Progress, no_progress

PAGE = 500


def export_events(
    recorder: ApplicationRecorder, out: BinaryIO, progress: Progress = no_progress
) -> int:
    """Write one JSON object per stored event to ``out``; return how many."""
    count = 0
    for count, (record, head) in enumerate(log_records(recorder), start=1):
        out.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
        if count % PAGE == 0 or record["position"] == head:
            progress("export", record["position"], head)
    out.flush()
    return count


def log_records(recorder: ApplicationRecorder) -> Iterator[tuple[dict[str, Any], int]]:
    """``(record, head)`` for each stored event up to the head of the log when it began,
    with its hash-chain link (``chain``: the position before it and the hash)."""
    links = _links(recorder)
    link = next(links, None)
    for notification, head in log_notifications(recorder):
        record = to_record(
            notification.id,
            str(notification.originator_id),
            notification.originator_version,
            notification.topic,
            notification.state,
        )
        while link is not None and link.position < notification.id:
            link = next(links, None)
        if link is not None and link.position == notification.id:
            record["chain"] = {"previous": link.previous, "hash": link.hash.hex()}
        yield record, head


def _links(recorder: Any) -> Iterator[Any]:
    after = 0
    while page := recorder.select_links(after, PAGE):
        yield from page
        after = page[-1].position


def log_notifications(recorder: ApplicationRecorder) -> Iterator[tuple[Notification, int]]:
    """``(notification, head)`` for each stored event up to the head of the log when it
    began.

    Positions only grow and committed events never change, so paging up to that head
    reads exactly the log as it stood, whatever is committed meanwhile.
    """
    head = recorder.max_notification_id() or 0
    after = 0
    while after < head:
        page = recorder.select_notifications(after, PAGE, stop=head, inclusive_of_start=False)
        if not page:
            return
        for notification in page:
            yield notification, head
        after = page[-1].id


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
