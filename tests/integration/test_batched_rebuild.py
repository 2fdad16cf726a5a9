"""A replay (rebuild, verify's rebuild, import) projects the log in batches, one
transaction each: the rows equal the event-by-event projection's, hashes included; a
failure inside a batch commits nothing of it; a batch overlapping what is already
projected is refused whole."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from specsvc.application import SpecApplication
from specsvc.bootstrap import Components
from specsvc.operator import verify_projections
from specsvc.persistence import sql
from specsvc.persistence.interfaces import EventRow, TableDump
from specsvc.persistence.sqlite.factory import scratch_env
from specsvc.projections import SpecProjections, replay
from tests.support.histories import lifecycle
from tests.support.stores import make_spec

SECTION = 7  # events per batch here: batches end in the middle of specs' histories


@pytest.fixture
def written(file_store: Components) -> Components:
    lifecycle(file_store.service)
    for n in range(12):
        file_store.service.update_spec("rules", rules(n), actor="alice", reason=f"r{n}")
    assert file_store.service.catch_up()  # every write in the read models
    return file_store


def rules(n: int) -> str:
    return f"rule: {{field: email, matches: '@example{n}\\.com$'}}\n"


@pytest.fixture
def fresh(written: Components, monkeypatch: pytest.MonkeyPatch) -> Iterator[SpecProjections]:
    """Empty read models in a scratch store, following the written store's log and
    projecting it SECTION events at a time."""
    monkeypatch.setattr(SpecProjections, "pull_section_size", SECTION)
    app = written.application
    projections = SpecProjections(env=scratch_env(dict(app.env), SpecProjections.name))
    projections.follow(app.name, app.notification_log)
    yield projections
    projections.close()


def state(projections: SpecProjections, app: SpecApplication) -> tuple[Any, ...]:
    """Every row as stored (hashes and sealed content included) and the tracking record."""
    tables: dict[str, TableDump] = projections.read_model.stored_tables()  # type: ignore[attr-defined]
    return tables, projections.recorder.max_tracking_id(app.name)


def audited(projections: SpecProjections) -> list[int]:
    return [row[0] for row in projections.read_model.dump_tables()["audit_log"].rows]


def test_a_batched_replay_writes_exactly_the_rows_of_the_event_by_event_projection(
    written: Components, fresh: SpecProjections
) -> None:
    app = written.application
    head = app.recorder.max_notification_id()
    assert head is not None and head > 4 * SECTION
    one_by_one = SpecProjections(env=scratch_env(dict(app.env), SpecProjections.name))
    try:
        one_by_one.follow(app.name, app.notification_log)
        one_by_one.pull_and_process(app.name)  # the library's path: one transaction per event
        progress: list[tuple[int, int]] = []
        replay(fresh, app, lambda done, total: progress.append((done, total)))
        assert state(fresh, app) == state(one_by_one, app)
    finally:
        one_by_one.close()
    assert state(fresh, app) == state(written.projections, app)  # the live read models
    assert progress[-1] == (head, head)
    assert [done for done, _ in progress] == [*range(SECTION, head, SECTION), head]
    assert verify_projections(written) == {"equal": True, "differences": []}


def test_a_failure_inside_a_batch_commits_nothing_of_it_and_a_rerun_completes(
    written: Components, fresh: SpecProjections, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = written.application
    failing = 3 * SECTION + 2  # inside the fourth batch
    project = sql.projection

    def fail(row: EventRow, position: int) -> Any:
        if position == failing:
            raise RuntimeError("the disk is full")
        return project(row, position)

    monkeypatch.setattr(sql, "projection", fail)
    with pytest.raises(RuntimeError, match="the disk is full"):
        replay(fresh, app)
    assert fresh.recorder.max_tracking_id(app.name) == 3 * SECTION
    assert audited(fresh) == list(range(1, 3 * SECTION + 1))
    monkeypatch.setattr(sql, "projection", project)
    replay(fresh, app)
    assert state(fresh, app) == state(written.projections, app)


def test_a_batch_overlapping_projected_positions_is_refused_and_changes_nothing(
    written: Components, fresh: SpecProjections
) -> None:
    app = written.application
    fresh.catch_up(app.name, stop=2 * SECTION)
    before = state(fresh, app)
    read_model = fresh.read_model

    notifications = app.notification_log.select(2 * SECTION - 2, 6)
    overlapping = fresh.rows(fresh.convert_notifications(app.name, notifications))
    assert any(row is not None for _, row in overlapping)
    for batch in (overlapping, overlapping[-4:-3], overlapping[:2]):
        with pytest.raises(IntegrityError, match="already projected"):
            read_model.project_batch(app.name, batch)
        assert state(fresh, app) == before
    read_model.project_batch(app.name, overlapping[3:])  # what follows the tracking record
    assert fresh.recorder.max_tracking_id(app.name) == 2 * SECTION + 3
    replay(fresh, app)
    assert state(fresh, app) == state(written.projections, app)


def test_a_batch_meant_to_follow_a_position_is_refused_unless_the_read_models_stand_there(
    file_store: Components,
) -> None:
    app, read_model = file_store.application, file_store.projections.read_model
    make_spec(file_store.service, "after")  # position 1
    assert file_store.service.catch_up()  # projected
    head = app.recorder.max_notification_id()
    with pytest.raises(IntegrityError, match="projected to 1, not 0"):
        read_model.project_batch(app.name, [(head + 1, None)], after=0)
    with pytest.raises(IntegrityError, match="projected to 1, not 2"):
        read_model.project_batch(app.name, [(head + 1, None)], after=2)
    read_model.project_batch(app.name, [(head + 1, None)], after=1)
    assert file_store.projections.recorder.max_tracking_id(app.name) == head + 1
