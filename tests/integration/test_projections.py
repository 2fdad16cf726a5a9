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
from specsvc.operator import verify_projections
from specsvc.operator.projection_diff import rebuilt_projections
from specsvc.projections import SpecProjections
from tests.support.stores import RULES, make_spec

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


def test_a_failing_projection_never_fails_a_committed_write(file_store: Components) -> None:
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
    assert file_service.list_events()["events"] == []
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
        pulls: list[int | None] = []
        original = SpecProjections.pull_notifications

        def pull(self: SpecProjections, leader: str, start: int | None, **kw: Any) -> Any:
            pulls.append(start)
            return original(self, leader, start, **kw)

        monkeypatch.setattr(SpecProjections, "pull_notifications", pull)
        svc.update_spec("own", "a: 2\n", actor="alice", reason="two")
        assert pulls == []  # its events were projected as the writer recorded them
        with SpecService.open(settings=Settings(db=db)) as other:  # another writer
            make_spec(other, "theirs")
        svc.update_spec("own", "a: 3\n", actor="alice", reason="three")
        # "theirs" lay between: this process read the log from where its read models stood.
        assert pulls and svc.list_specs()["specs"][-1]["name"] == "theirs"
        assert [e["position"] for e in svc.list_events()["events"]] == [1, 2, 3, 4]
        assert verify_projections_of(db)


def verify_projections_of(db: str) -> bool:
    store = bootstrap.start(Settings(db=db))
    try:
        return bool(verify_projections(store)["equal"])
    finally:
        store.service.close()
