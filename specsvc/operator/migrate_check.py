"""After a migration: the copy against its source, from the stored bytes to the answers.

The two logs are exported and compared event by event, and so are the two timelines
(what reads ``as_of`` a moment or at a version look up) and the idempotency answers;
the copy is verified on its own (every spec replayed without snapshots, the timeline,
the read models against a rebuild); its read models are compared row by row with the
source's; and every spec is read from both: now, its versions, history and published
content, and as of its first and last event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from specsvc.errors import SpecServiceError
from specsvc.operator.common import OpenStore, Progress, no_progress
from specsvc.operator.compare import differences
from specsvc.operator.export import log_records
from specsvc.operator.import_check import log_differences
from specsvc.operator.projection_diff import table_differences
from specsvc.operator.verify import verify_store
from specsvc.persistence.interfaces import SpecTimelineRecorder, TimelineEntry
from specsvc.service import SpecService

PAGE = 500
SOURCE, TARGET = "the source", "the target"


def copy_differences(
    source: OpenStore, target: OpenStore, progress: Progress = no_progress
) -> dict[str, Any]:
    """``specs``, ``events`` and ``differences`` (empty when the copy is the source)."""
    src, dst = source.application, target.application
    found = log_differences(
        dst, (r for r, _ in log_records(src.recorder)), expected_by=SOURCE, actual_by=TARGET
    )
    if src.timeline.store_id() != dst.timeline.store_id():
        found.append(
            f"store identity: {TARGET} is {dst.timeline.store_id()},"
            f" {SOURCE} is {src.timeline.store_id()}"
        )
    found += timeline_differences(src.timeline, dst.timeline)
    found += differences(
        "idempotency answers",
        [vars(a) for a in src.timeline.remembered()],
        [vars(a) for a in dst.timeline.remembered()],
        expected_by=SOURCE,
        actual_by=TARGET,
    )
    checked = verify_store(target, progress)
    found += [f"{TARGET}: {line}" for line in checked["differences"]]
    source.service.catch_up()
    found += _tracking_differences(source, target)
    found += table_differences(
        source.projections.read_model.dump_tables(),
        target.projections.read_model.dump_tables(),
        by=SOURCE,
    )
    names = spec_names(source.service)
    for done, name in enumerate(names, start=1):
        found += read_differences(source, target, name)
        progress("compare", done, len(names))
    return {"specs": len(names), "events": checked["events"], "differences": found}


def _tracking_differences(source: OpenStore, target: OpenStore) -> list[str]:
    name = source.application.name
    want = source.projections.recorder.max_tracking_id(name) or 0
    have = target.projections.recorder.max_tracking_id(name) or 0
    if want == have:
        return []
    return [f"projections: {TARGET} has projected up to position {have}, {SOURCE} {want}"]


def spec_names(service: SpecService) -> list[str]:
    """Every spec's name, deleted ones included, in name order."""
    names: list[str] = []
    for state in (None, "deleted"):
        token = None
        while True:
            page = service.list_specs(state=state, limit=PAGE, page_token=token)
            names += [summary["name"] for summary in page["specs"]]
            token = page["next_page_token"]
            if token is None:
                break
    return sorted(names)


def read_differences(source: OpenStore, target: OpenStore, name: str) -> list[str]:
    """What the Python API answers about one spec from each store, and the timeline
    entries that ``as_of`` and version reads look up, at each of its events."""

    def both(label: str, read: Callable[[Any], Any], of: str = "service") -> list[str]:
        return differences(
            f"{name} {label}",
            _answer(read, getattr(source, of)),
            _answer(read, getattr(target, of)),
            expected_by=SOURCE,
            actual_by=TARGET,
        )

    found = both("spec", lambda s: s.get_spec(name))
    found += both("versions", lambda s: s.list_versions(name))
    found += both("published", lambda s: s.get_published(name))
    found += both("history", lambda s: s.history(name))
    history = _answer(lambda s: s.history(name), source.service)
    events = history.get("events", []) if isinstance(history, dict) else []
    # Whole reads as of a moment, at the first and the last event (each replays events;
    # the timeline rows behind the others are compared in timeline_differences).
    for event in events[:1] + events[-1:]:
        found += both(f"as_of {event['timestamp']}", _as_of(name, event["timestamp"]))
    return found


def timeline_differences(source: SpecTimelineRecorder, target: SpecTimelineRecorder) -> list[str]:
    """Every timeline row (position, timestamp, content version of each event, which
    ``as_of`` and version reads look up) of the two stores, matched by spec and sequence."""
    found: list[str] = []
    want, have = _timeline_rows(source), _timeline_rows(target)
    expected, actual = next(want, None), next(have, None)
    while expected is not None or actual is not None:
        key = min(_key(row) for row in (expected, actual) if row is not None)
        mine = expected if expected is not None and _key(expected) == key else None
        theirs = actual if actual is not None and _key(actual) == key else None
        found += differences(
            f"timeline: event {key[1]} of spec {key[0]}",
            _row(mine),
            _row(theirs),
            expected_by=SOURCE,
            actual_by=TARGET,
        )
        if mine is not None:
            expected = next(want, None)
        if theirs is not None:
            actual = next(have, None)
    return found


def _timeline_rows(timeline: SpecTimelineRecorder) -> Iterator[tuple[int, TimelineEntry]]:
    after: tuple[UUID, int] | None = None
    while page := timeline.select_timeline(after, PAGE):
        yield from page
        after = _key(page[-1])


def _key(row: tuple[int, TimelineEntry]) -> tuple[UUID, int]:
    return row[1].spec_id, row[1].sequence


def _row(row: tuple[int, TimelineEntry] | None) -> dict[str, Any] | None:
    return None if row is None else {"position": row[0], **vars(row[1])}


def _as_of(name: str, moment: Any) -> Callable[[SpecService], Any]:
    return lambda service: service.get_spec(name, as_of=moment)


def _answer(read: Callable[[Any], Any], reader: Any) -> Any:
    # An error is an answer too: both stores must give the same one.
    # (``reader`` is a store's service or its application.)
    try:
        return read(reader)
    except SpecServiceError as error:
        return {"error": error.code}
