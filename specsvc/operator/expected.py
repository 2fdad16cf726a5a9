"""What the API must answer for a spec, derived straight from its events (no store)."""

from __future__ import annotations

from typing import Any, cast

from eventsourcing.application import project_aggregate

from specsvc.application import content_version
from specsvc.content import sha256_hex
from specsvc.domainmodel import Spec
from specsvc.service.resources import spec_resource

LoggedEvent = tuple[int, Spec.Event]


def expected_views(events: list[LoggedEvent]) -> dict[str, Any]:
    """``state`` (GET spec), ``versions`` and ``history`` of one spec, oldest event first."""
    spec = cast(Spec, project_aggregate(None, [event for _, event in events]))
    versions: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    current = 0
    for position, event in events:
        written = content_version(event)
        if written is not None:
            current = written
            versions.append(_version_row(event, written))
        history.append(_history_row(position, spec.name, event, current))
    return {"state": spec_resource(spec), "versions": versions, "history": history}


def _version_row(event: Spec.Event, version: int) -> dict[str, Any]:
    content: str = cast(Any, event).content  # only content events get here
    return {
        "version": version,
        "created_at": event.timestamp,
        "created_by": event.actor,
        "reason": event.reason,
        "content_sha256": sha256_hex(content),
        "size": len(content.encode("utf-8")),
    }


def _history_row(position: int, name: str, event: Spec.Event, version: int) -> dict[str, Any]:
    return {
        "position": position,
        "spec": name,
        "sequence": event.originator_version,
        "event": type(event).__name__,
        "timestamp": event.timestamp,
        "actor": event.actor,
        "correlation_id": event.correlation_id,
        "reason": event.reason,
        "version": version,
        "from_state": getattr(event, "from_state", None),
        "to_state": getattr(event, "to_state", None),
        "published_version": getattr(event, "published_version", None),
    }
