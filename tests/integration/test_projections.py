"""Projections: read-your-writes, catch-up after downtime, failure containment, rebuilds."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from specsvc import SpecService, bootstrap
from specsvc.application import SpecApplication
from specsvc.bootstrap import Components, env_for
from specsvc.config import Settings
from specsvc.domainmodel import Spec
from specsvc.errors import Unavailable
from specsvc.operator import verify_projections
from specsvc.operator.projection_diff import rebuilt_projections
from specsvc.projections import SpecProjections
from specsvc.runners import embedded
from tests.support.stores import RULES, make_spec, started_store

ACTOR = {"actor": "bob", "reason": "because"}


def rich_scenario(svc: SpecService) -> None:
    make_spec(svc, "alpha")
    make_spec(svc, "rules", RULES, type="regex-rules", reason="seed")
    for n in range(2, 6):
        svc.update_spec("alpha", f"a: {n}\n", **ACTOR)
    svc.publish_spec("alpha", version=3, **ACTOR)
    svc.publish_spec("alpha", **ACTOR)
    svc.deprecate_spec("alpha", **ACTOR)
    svc.publish_spec("rules", **ACTOR)
    make_spec(svc, "gone")
    svc.delete_spec("gone", **ACTOR)


def test_reads_reflect_each_write_as_soon_as_it_returns(service: SpecService) -> None:
    def writer(i: int) -> None:
        name = f"spec-{i}"
        make_spec(service, name)
        assert name in [s["name"] for s in service.list_specs(name_prefix=name)["specs"]]
        service.publish_spec(name, **ACTOR)
        assert service.get_published(name)["version"] == 1
        service.update_spec(name, "a: 2\n", **ACTOR)
        assert service.list_specs(name_prefix=name)["specs"][0]["version"] == 2

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(service.list_specs()["specs"]) == 6
    status = service.projection_status()
    assert (status["lag"], status["caught_up"], status["error"]) == (0, True, None)


def test_projections_catch_up_with_writes_made_while_they_were_down(tmp_path: Path) -> None:
    settings = Settings(db=str(tmp_path / "specs.db"))
    with SpecService.open(settings=settings) as svc:
        make_spec(svc, "before")
    # Only the event-sourced application runs: no projections follow it.
    app = SpecApplication(env=env_for(settings))
    app.create(
        Spec(
            name="during",
            type="generic",
            content="a: 1\n",
            actor="ops",
            correlation_id="c",
            reason="offline",
        )
    )
    app.change(
        "before", lambda s: s.update("a: 2\n", actor="ops", correlation_id="c", reason="offline")
    )
    app.close()
    with SpecService.open(settings=settings) as svc:
        assert [s["name"] for s in svc.list_specs()["specs"]] == ["before", "during"]
        assert svc.list_specs()["specs"][0]["version"] == 2
        assert [e["spec"] for e in svc.list_events()["events"]] == ["before", "during", "before"]
        assert svc.projection_status()["caught_up"] is True


def test_a_failing_projection_never_fails_a_committed_write(tmp_path: Path) -> None:
    with started_store("sqlite-file", tmp_path, consistency_timeout=0.3) as file_store:
        a_failing_projection_never_fails_a_committed_write(file_store)


def a_failing_projection_never_fails_a_committed_write(file_store: Components) -> None:
    file_service = file_store.service
    projections_db = file_service.storage_info()["projections"]["database"]
    with sqlite3.connect(projections_db) as db:
        db.execute(
            "CREATE TRIGGER explode BEFORE INSERT ON spec_summaries WHEN NEW.name='boom'"
            " BEGIN SELECT RAISE(ABORT, 'injected projection failure'); END"
        )
    created = make_spec(file_service, "boom")
    assert created["version"] == 1
    assert file_service.get_spec("boom")["name"] == "boom"  # the event store has it
    make_spec(file_service, "after")
    status = file_service.projection_status()
    assert status["caught_up"] is False and status["lag"] == 2
    assert "injected projection failure" in status["error"]
    # The failed event was rolled back whole: no audit row without its summary.
    assert file_service.list_events(min_position=0)["events"] == []
    # A read that must see the writes is never answered without them.
    with pytest.raises(Unavailable, match="have not reached position 2"):
        file_service.list_specs()
    with sqlite3.connect(projections_db) as db:
        db.execute("DROP TRIGGER explode")
    assert file_service.catch_up() is True
    assert [s["name"] for s in file_service.list_specs()["specs"]] == ["after", "boom"]
    assert verify_projections(file_store) == {"equal": True, "differences": []}


def test_rebuild_gives_exactly_the_incremental_rows(store: Components) -> None:
    rich_scenario(store.service)
    assert store.service.catch_up()  # on PostgreSQL, the worker projects the last write
    incremental = store.projections.read_model.dump_tables()
    assert all(dump.rows for dump in incremental.values())
    rebuilt = rebuilt_projections(store.application)
    try:
        assert rebuilt.read_model.dump_tables() == incremental
    finally:
        rebuilt.close()
    assert verify_projections(store) == {"equal": True, "differences": []}


def test_verify_reports_a_tampered_read_model(file_store: Components) -> None:
    rich_scenario(file_store.service)
    assert file_store.service.catch_up()
    projections_db = file_store.service.storage_info()["projections"]["database"]
    alpha = str(file_store.service.get_spec("alpha")["id"])
    with sqlite3.connect(projections_db) as db:
        db.execute("UPDATE spec_summaries SET state='draft' WHERE name='alpha'")
        db.execute("DELETE FROM audit_log WHERE position=1")
    report = verify_projections(file_store)
    assert report["equal"] is False
    assert sorted(report["differences"]) == [
        "projections: audit_log 1: missing (the rebuild has it)",
        f"projections: spec_summaries {alpha}: state is 'draft', the rebuild has 'deprecated'",
    ]


def test_poller_picks_up_commits_made_elsewhere(tmp_path: Path) -> None:
    settings = Settings(db=str(tmp_path / "specs.db"), projection_poll_interval=0.05)
    with SpecService.open(settings=settings) as reader:
        writer = SpecApplication(env=env_for(settings))  # records, projects nothing
        writer.create(
            Spec(
                name="elsewhere",
                type="generic",
                content="a: 1\n",
                actor="ops",
                correlation_id="c",
                reason=None,
            )
        )
        writer.close()
        for _ in range(200):
            if reader.list_specs()["specs"]:
                break
            threading.Event().wait(0.05)
        assert [s["name"] for s in reader.list_specs()["specs"]] == ["elsewhere"]


def test_a_write_is_projected_as_recorded_and_what_others_wrote_is_read_from_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "s.db")
    with SpecService.open(settings=Settings(db=db)) as svc:
        make_spec(svc, "own")
        assert svc.catch_up()
        pulls: list[int | None] = []
        original = SpecProjections.pull_notifications

        def pull(self: SpecProjections, leader: str, start: int | None, **kw: Any) -> Any:
            pulls.append(start)
            return original(self, leader, start, **kw)

        monkeypatch.setattr(SpecProjections, "pull_notifications", pull)
        projected(svc, svc.update_spec("own", "a: 2\n", actor="alice", reason="two"))
        assert pulls == []  # its events were projected as the writer recorded them
        with SpecService.open(settings=Settings(db=db)) as other:  # another writer
            make_spec(other, "theirs")
        projected(svc, svc.update_spec("own", "a: 3\n", actor="alice", reason="three"))
        # "theirs" lay between: this process read the log from where its read models stood.
        assert pulls and svc.list_specs()["specs"][-1]["name"] == "theirs"
        assert [e["position"] for e in svc.list_events()["events"]] == [1, 2, 3, 4]
        assert verify_projections_of(db)


def projected(svc: SpecService, written: dict[str, Any]) -> None:
    """Wait for the projector to project a write (without projecting it here)."""
    for _ in range(500):
        if svc.projected_position() >= written["position"]:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"position {written['position']} was not projected")


def test_a_write_returns_before_its_projection_and_reads_of_the_read_models_still_see_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "GATHER_SECONDS", 60.0)  # the projector waits for a stop
    with SpecService.open(settings=Settings(db=str(tmp_path / "s.db"))) as svc:
        created = make_spec(svc, "alpha")
        published = svc.publish_spec("alpha", **ACTOR)
        assert svc.projected_position() < published["position"] == created["position"] + 1
        # Each read of the read models first brings them to the log's head as it found it.
        assert svc.get_published("alpha")["version"] == 1
        assert svc.projected_position() == published["position"]
        svc.update_spec("alpha", "a: 2\n", **ACTOR)
        assert [v["version"] for v in svc.list_versions("alpha")["versions"]] == [1, 2]
        assert [e["event"] for e in svc.history("alpha")["events"]][-1] == "SpecUpdated"


def test_a_read_sees_what_another_process_answered_before_that_process_projected_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "GATHER_SECONDS", 60.0)
    settings = Settings(db=str(tmp_path / "s.db"), projection_poll_interval=0)
    with (
        SpecService.open(settings=settings) as reader,
        SpecService.open(settings=settings) as writer,
    ):
        assert reader.list_specs()["specs"] == []
        written = make_spec(writer, "alpha")
        writer.publish_spec("alpha", **ACTOR)
        assert writer.projected_position() < written["position"]  # nobody projected them
        assert reader.get_published("alpha")["version"] == 1
        assert [s["name"] for s in reader.list_specs()["specs"]] == ["alpha"]


def test_writes_that_gather_are_projected_in_one_transaction_and_a_stop_projects_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "GATHER_SECONDS", 60.0)
    batches: list[int] = []
    original = SpecProjections.process_batch

    def process_batch(self: SpecProjections, batch: Any, **kw: Any) -> None:
        batches.append(len(batch))
        original(self, batch, **kw)

    monkeypatch.setattr(SpecProjections, "process_batch", process_batch)
    settings = Settings(db=str(tmp_path / "s.db"))
    with SpecService.open(settings=settings) as svc:
        make_spec(svc, "alpha")
        writers = [threading.Thread(target=make_spec, args=(svc, f"spec-{n}")) for n in range(8)]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        for n in range(2, 5):
            svc.update_spec("alpha", f"a: {n}\n", **ACTOR)
        assert batches == []
    assert batches == [12]  # the stop woke the projector, which projected all of them
    maintenance = bootstrap.start(settings, bootstrap.Role.MAINTENANCE)  # projects nothing
    try:
        assert maintenance.monitor.projected_position() == 12
    finally:
        maintenance.service.close()


def verify_projections_of(db: str) -> bool:
    store = bootstrap.start(Settings(db=db))
    try:
        return bool(verify_projections(store)["equal"])
    finally:
        store.service.close()
