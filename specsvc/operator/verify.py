"""``verify``: the hash chain end to end, every snapshot against a replay of the events up
to it, the timeline against the events, and the read models against a rebuild. Each
problem is reported with its position and kind (docs/behaviour.md, Tamper evidence); the
files agreeing with each other proves nothing on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from specsvc.application import SpecApplication
from specsvc.errors import SpecServiceError
from specsvc.operator.chain_check import Problem, check_checkpoint, walk_chain
from specsvc.operator.common import OpenStore, Progress, no_progress
from specsvc.operator.compare import differences
from specsvc.operator.projection_diff import projection_differences
from specsvc.persistence.chain import ChainBroken
from specsvc.projections import binding_problem

PAGE = 500


def verify_store(
    store: OpenStore,
    progress: Progress = no_progress,
    against: tuple[int, bytes] | None = None,
) -> dict[str, Any]:
    """Check ``store`` (and, with ``against``, that its log still extends that
    ``(position, chain hash)``); ``differences`` is empty when everything agrees."""
    app = store.application
    found, events = walk_chain(app.recorder, app.recorder.chain, progress=progress)  # type: ignore[attr-defined]
    if against is not None:
        found += check_checkpoint(app.recorder, *against)
    spec_ids, timeline = _scan_log(app)
    found += timeline
    for done, spec_id in enumerate(spec_ids, start=1):
        found += _snapshot_problems(app, spec_id)
        progress("snapshots", done, len(spec_ids))
    progress("projections", 0, 1)
    found += _read_model_problems(store)
    progress("projections", 1, 1)
    problems = _unique(found)
    return {
        "specs": len(spec_ids),
        "events": events,
        "differences": [problem.line() for problem in problems],
        "problems": [problem.to_dict() for problem in problems],
    }


def verify_projections(store: OpenStore) -> dict[str, Any]:
    """Rebuild the read models from the event log and compare every row with the live ones."""
    store.service.catch_up()
    found = projection_differences(store.application, store.projections.read_model)
    return {"equal": not found, "differences": found}


def head_of(store: OpenStore) -> tuple[int, bytes]:
    """The position and chain hash of the last event: what a checkpoint records."""
    link = store.application.recorder.last_link()  # type: ignore[attr-defined]
    if link is None:
        return 0, bytes(32)
    return link.position, link.hash


def _scan_log(app: SpecApplication) -> tuple[list[UUID], list[Problem]]:
    # The timeline is written with the events and serves positions and as_of reads: read
    # whole (a page at a time), then matched against the log.
    timeline = _timeline(app)
    spec_ids: dict[UUID, None] = {}
    found: list[Problem] = []
    after = 0
    while page := app.recorder.select_notifications(after, PAGE, inclusive_of_start=False):
        for notification in page:
            try:
                spec_id = UUID(str(notification.originator_id))
            except ValueError:
                found.append(Problem(notification.id, "inserted", "not a spec's event"))
                continue
            spec_ids[spec_id] = None
            indexed = timeline.pop((spec_id, notification.originator_version), None)
            if indexed != notification.id:
                found.append(
                    Problem(
                        notification.id,
                        "timeline differs",
                        f"event {notification.originator_version} of spec {spec_id} is here;"
                        f" the timeline says position {indexed}",
                    )
                )
        after = page[-1].id
    for (spec_id, sequence), position in timeline.items():
        found.append(
            Problem(
                position,
                "timeline differs",
                f"the timeline has event {sequence} of spec {spec_id} here; the log does not",
            )
        )
    return list(spec_ids), found


def _timeline(app: SpecApplication) -> dict[tuple[UUID, int], int]:
    rows: dict[tuple[UUID, int], int] = {}
    after: tuple[UUID, int] | None = None
    while page := app.timeline.select_timeline(after, PAGE):
        for position, entry in page:
            rows[(UUID(str(entry.spec_id)), entry.sequence)] = position
        after = (UUID(str(page[-1][1].spec_id)), page[-1][1].sequence)
    return rows


def _snapshot_problems(app: SpecApplication, spec_id: UUID) -> list[Problem]:
    """Each snapshot of the spec against the replay of its events up to the snapshot's
    version; events that cannot be read are named by position."""
    snapshots = app.snapshots
    assert snapshots is not None
    recorder: Any = snapshots.recorder
    try:
        stored = {s.originator_version: s for s in recorder.select_unchecked(spec_id)}
        hashes = recorder.snapshot_hashes(spec_id)
        events = list(app.events.get(spec_id))
    except ChainBroken as error:  # the chain walk named it too
        return [Problem(error.position, error.kind, str(error))]
    except Exception as error:  # an event the mapper cannot decode
        return [Problem(None, "edited", f"spec {spec_id}: an event cannot be decoded: {error}")]
    found: list[Problem] = []
    aggregate: Any = None
    event: Any
    for expected, event in enumerate(events, start=1):
        if event.originator_version != expected:  # the chain walk names the gap too
            position = app.timeline.position_of(spec_id, expected)
            return [*found, Problem(position, "deleted", f"event {expected} of spec {spec_id}")]
        try:
            aggregate = event.mutate(aggregate)
        except Exception as error:
            position = app.timeline.position_of(spec_id, expected)
            return [*found, Problem(position, "edited", f"cannot be replayed: {error!r}")]
        snapshot = stored.pop(event.originator_version, None)
        if snapshot is not None:
            found += _compare_snapshot(app, spec_id, snapshot, aggregate)
            found += _check_hash(app, spec_id, snapshot, hashes.get(snapshot.originator_version))
    for version in stored:  # snapshots of events the log does not hold
        found.append(
            Problem(
                app.timeline.position_of(spec_id, version),
                "snapshot differs",
                f"a snapshot of spec {spec_id} at event {version}, which the log lacks",
            )
        )
    return found


def _compare_snapshot(
    app: SpecApplication, spec_id: UUID, stored: StoredEvent, replayed: Any
) -> list[Problem]:
    version = stored.originator_version
    position = app.timeline.position_of(spec_id, version)
    name = getattr(replayed, "name", spec_id)
    try:
        snapshot: Any = app.snapshots.mapper.to_domain_event(stored)  # type: ignore[union-attr]
        restored = snapshot.mutate(None)
    except Exception as error:
        return [Problem(position, "snapshot differs", f"spec {name}: cannot be decoded: {error}")]
    return [
        Problem(position, "snapshot differs", line)
        for line in differences(
            f"spec {name} at event {version}",
            _attributes(replayed),
            _attributes(restored),
            expected_by="the replay of its events",
            actual_by="the snapshot",
        )
    ]


def _check_hash(
    app: SpecApplication, spec_id: UUID, snapshot: StoredEvent, digest: bytes | None
) -> list[Problem]:
    """A snapshot's hash, where it has one (those taken before the chain existed have
    none, and are never read by the service)."""
    chain = app.recorder.chain  # type: ignore[attr-defined]
    version = snapshot.originator_version
    if (
        digest is None
        or chain.snapshot_hash(spec_id, version, snapshot.topic, snapshot.state) == digest
    ):
        return []
    position = app.timeline.position_of(spec_id, version)
    return [
        Problem(
            position,
            "snapshot differs",
            f"the snapshot at event {version} of spec {spec_id} does not match its hash",
        )
    ]


def _read_model_problems(store: OpenStore) -> list[Problem]:
    app = store.application
    try:
        store.service.catch_up()
        problem = binding_problem(store.projections, app)
        found = [] if problem is None else [f"projections: {problem}"]
        found += projection_differences(app, store.projections.read_model)
    except SpecServiceError as error:
        return [_problem_of(error)]
    except Exception as error:  # events the projections cannot decode
        return [Problem(None, "read model differs", f"cannot rebuild the read models: {error}")]
    return [Problem(_position_in(line, app), "read model differs", line) for line in found]


def _position_in(line: str, app: SpecApplication) -> int | None:
    """The position of the event whose projection wrote the row a line names:
    "projections: audit_log 12: ..." (its own), "projections: spec_versions ID, 3: ..."
    (the event that wrote version 3), "projections: spec_summaries ID: ..." (the spec's
    last event)."""
    words = [word.rstrip(":,") for word in line.split()]
    if len(words) < 3:
        return None
    try:
        if words[1] == "audit_log":
            return int(words[2])
        spec = UUID(words[2])
        if words[1] == "spec_versions":
            sequence = app.timeline.sequence_of_version(spec, int(words[3]))
        elif words[1] == "spec_summaries":
            sequence = app.timeline.sequence_at(spec, datetime.max.replace(tzinfo=UTC))
        else:
            return None
    except (ValueError, IndexError):
        return None
    return None if sequence is None else app.timeline.position_of(spec, sequence)


def _problem_of(error: SpecServiceError) -> Problem:
    details = error.details
    return Problem(details.get("position"), details.get("kind", "edited"), error.message)


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: dict[tuple[int | None, str, str], Problem] = {}
    for problem in problems:
        seen.setdefault((problem.position, problem.kind, problem.detail), problem)
    return sorted(seen.values(), key=lambda p: (p.position is None, p.position or 0, p.kind))


def _attributes(spec: Any) -> dict[str, Any]:
    return {key: value for key, value in vars(spec).items() if key != "_pending_events"}
