"""``specsvc migrate``: a SQLite store copied into PostgreSQL, verified, and served."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from specsvc import SpecService, bootstrap
from specsvc.cli import main
from specsvc.config import Settings
from specsvc.domainmodel import Spec
from specsvc.errors import StoreNotEmpty
from specsvc.operator import export_events, migrate_store
from specsvc.persistence.sqlite.files import projections_path
from tests.support.histories import lifecycle
from tests.support.processes import running
from tests.support.stores import running_worker, scratch_database

pytestmark = pytest.mark.system

BULK_SPECS, BULK_EVENTS = 42, 25  # 1,050 events: more than two batches of 500


def bulk(store: bootstrap.Components) -> None:
    """Many events quickly: each spec's events saved in one transaction."""
    for n in range(BULK_SPECS):
        spec = Spec(f"bulk-{n:02d}", "generic", "v: 1\n", "loader", f"load-{n}", None)
        for v in range(2, BULK_EVENTS + 1):
            spec.update(f"v: {v}\n", actor="loader", correlation_id=f"load-{n}-{v}", reason="r")
        store.application.save(spec)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The whole lifecycle, then over 1,000 events, then one more command."""
    db = str(tmp_path_factory.mktemp("migrate") / "specs.db")
    store = bootstrap.start(Settings(db=db))
    try:
        lifecycle(store.service)
        bulk(store)
        store.service.update_spec("draft", "a: 2\n", actor="erin", reason="after the bulk")
    finally:
        store.service.close()
    return db


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The whole lifecycle only: for refusals and verification, quicker to compare."""
    db = str(tmp_path_factory.mktemp("migrate-small") / "specs.db")
    with SpecService.open(db) as svc:
        lifecycle(svc)
    return db


@pytest.fixture
def url() -> Iterator[str]:
    with scratch_database() as database:
        yield database


@contextmanager
def opened(**settings: Any) -> Iterator[bootstrap.Components]:
    store = bootstrap.start(Settings(**settings), bootstrap.Role.TOOL)
    try:
        yield store
    finally:
        store.service.close()


def migrate(source: str, url: str, *extra: str) -> int:
    return main(["migrate", "--from", source, "--to", url, *extra])


def exported(store: bootstrap.Components) -> bytes:
    out = io.BytesIO()
    export_events(store.application.recorder, out)
    return out.getvalue()


def answers(svc: SpecService) -> dict[str, Any]:
    """What the Python API says about every spec, now and at each of its events."""
    names = [s["name"] for s in svc.list_specs(limit=500)["specs"]]
    names += [s["name"] for s in svc.list_specs(state="deleted", limit=500)["specs"]]
    seen: dict[str, Any] = {"names": names, "events": svc.list_events(limit=500)}
    for name in names:
        history = svc.history(name)["events"]
        seen[name] = {
            "spec": svc.get_spec(name),
            "versions": svc.list_versions(name),
            "version 1": svc.get_version(name, 1),
            "history": history,
            # Every event of the lifecycle's specs; a sample of the long ones.
            "as_of": [svc.get_spec(name, as_of=e["timestamp"]) for e in sample(history)],
        }
        if svc.get_spec(name)["published_version"] and svc.get_spec(name)["state"] != "deleted":
            seen[name]["published"] = svc.get_published(name)
    return seen


def sample(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return history if len(history) <= 20 else [history[0], history[10], history[-1]]


def test_a_round_trip_keeps_every_event_position_and_answer(
    source: str, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert migrate(source, url, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["differences"] == []
    assert report["events_per_second"] > 0
    with opened(db=source) as original, opened(database_url=url) as copy:
        assert report["events"] == original.application.recorder.max_notification_id() > 1000
        # Positions, ids, versions, topics and the stored bytes (timestamps included).
        assert exported(copy) == exported(original)
        timeline = [s.application.timeline for s in (original, copy)]
        assert timeline[0].store_id() == timeline[1].store_id() == report["store_id"]
        assert answers(copy.service) == answers(original.service)
        # A retry that crosses the move gets the original answer and writes nothing.
        retried = copy.service.update_spec(
            "draft", "a: 0\n", actor="erin", reason="retried", idempotency_key="k-1"
        )
        kept = original.service.history("draft")["events"][1]
        assert kept["reason"] == "retried"
        assert retried["version"] == 2 and retried["position"] == kept["position"]
        assert copy.application.recorder.max_notification_id() == report["events"]
        snapshots = copy.application.snapshots
        assert snapshots is not None
        bulk_id = Spec.create_id("bulk-00")
        assert [s.originator_version for s in snapshots.get(bulk_id)] == [20]


def test_the_projection_worker_carries_on_from_the_copied_position(
    source: str, url: str
) -> None:
    assert migrate(source, url) == 0
    settings = Settings(database_url=url)
    with opened(database_url=url) as copy:
        head = copy.application.recorder.max_notification_id()
        before = copy.projections.read_model.dump_tables()
        with running_worker(settings):
            svc = copy.service
            written = svc.create_spec("after", "generic", "a: 1\n", actor="ops")
            assert written["position"] == head + 1  # the sequence continues past the copy
            events = svc.list_events(after=head, min_position=written["position"])["events"]
            assert [e["spec"] for e in events] == ["after"]
        after = copy.projections.read_model.dump_tables()
    # Nothing was projected again: every copied row is as the migration left it, and
    # each table has the one row of the new event besides.
    for table, dump in before.items():
        assert set(dump.rows) <= set(after[table].rows), table
        assert len(after[table].rows) == len(dump.rows) + 1, table
    assert main(["verify", "--database-url", url]) == 0


def test_specsvc_serve_on_the_copy_answers_as_the_original(source: str, url: str) -> None:
    assert migrate(source, url) == 0
    paths = ["/v1/specs?limit=500", "/v1/specs?state=deleted", "/v1/events?limit=500"]
    for name in ("rules", "counter", "bulk-07", "draft"):
        paths += [f"/v1/specs/{name}", f"/v1/specs/{name}/versions", f"/v1/specs/{name}/history"]
        paths += [f"/v1/specs/{name}/versions/1", f"/v1/specs/{name}/published"]
    seen = []
    for where in (("--db", source), ("--database-url", url)):
        with running(*where, "--rest-addr", "127.0.0.1:0") as server:
            got = {path: server.json("GET", path) for path in paths}
            history = got["/v1/specs/rules/history"][1]["events"]
            for event in history:
                moment = event["timestamp"].replace("+", "%2B")
                got[f"rules as_of {moment}"] = server.json("GET", f"/v1/specs/rules?as_of={moment}")
            seen.append(_without_correlation(got))
    assert seen[0] == seen[1]
    assert len([k for k in seen[0] if "as_of" in k]) == 5


def _without_correlation(got: dict[str, Any]) -> dict[str, Any]:
    # Each response's own correlation id is new; what the events carry is compared.
    return {
        path: (status, {k: v for k, v in body.items() if k != "correlation_id"})
        for path, (status, body) in got.items()
    }


def test_a_target_that_is_not_empty_is_refused_and_left_alone(
    small: str, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with opened(database_url=url) as other:
        other.service.create_spec("mine", "generic", "a: 1\n", actor="ops")
    assert migrate(small, url) == 5
    assert "StoreNotEmpty: the target already holds 1 events" in capsys.readouterr().err
    with opened(database_url=url) as other:
        assert other.application.recorder.max_notification_id() == 1


def test_a_second_migration_into_the_copy_is_refused(
    small: str, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert migrate(small, url) == 0
    capsys.readouterr()
    assert migrate(small, url, "--json") == 5
    error = json.loads(capsys.readouterr().err)["error"]
    assert error["code"] == "StoreNotEmpty" and "--verify-only" in error["message"]
    assert migrate(small, url, "--verify-only") == 0


def test_refusals_name_what_is_wrong(
    small: str, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert migrate(str(tmp_path / "none.db"), url) == 4
    assert migrate(url, url) == 2
    assert migrate(small, small) == 2
    assert migrate(small, "sqlite:///x.db") == 2
    assert migrate(small, url + "_missing") == 7  # a database that does not exist
    err = capsys.readouterr().err
    assert "no event store at" in err and "not a URL" in err and "postgresql://" in err
    assert "Unavailable: event store unavailable" in err and "does not exist" in err
    with opened(database_url=url) as target:  # nothing was written by any of them
        assert target.application.recorder.max_notification_id() is None


def test_an_interrupted_copy_commits_nothing_and_a_rerun_completes(
    source: str, url: str
) -> None:
    def interrupt(phase: str, done: int, total: int) -> None:
        if phase == "copy" and done > 500:
            raise KeyboardInterrupt

    with opened(db=source) as original, opened(database_url=url) as target:
        with pytest.raises(KeyboardInterrupt):
            migrate_store(original, target, interrupt)
        assert target.application.recorder.max_notification_id() is None
        timeline = target.application.timeline
        assert timeline.store_id() != original.application.timeline.store_id()
        assert timeline.position_of(Spec.create_id("rules"), 1) is None
    assert migrate(source, url) == 0


def test_a_copy_changed_afterwards_fails_verification(
    small: str, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert migrate(small, url) == 0
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "UPDATE specs_events SET state = convert_to(replace(convert_from(state, 'UTF8'),"
            " '\"reason\":\"comment\"', '\"reason\":\"edited\"'), 'UTF8')"
            " WHERE state LIKE %s",
            (b'%"reason":"comment"%',),
        )
        connection.execute("UPDATE spec_summaries SET state = 'draft' WHERE name = 'gone'")
        connection.execute("UPDATE spec_timeline SET timestamp = timestamp - 1 WHERE position = 3")
    capsys.readouterr()
    assert migrate(small, url, "--verify-only") == 1
    out = capsys.readouterr().out
    assert "of the log.state: the target has b'" in out and "edited" in out
    assert "projections: spec_summaries" in out and "state is 'draft'" in out
    assert "timeline: event 2 of spec" in out and ".timestamp: the target has" in out
    assert out.rstrip().endswith("differences")


def test_a_lost_event_fails_verification(small: str, url: str) -> None:
    assert migrate(small, url) == 0
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DELETE FROM specs_events WHERE id = (SELECT MAX(id) FROM specs_events)")
    assert migrate(small, url, "--verify-only") == 1


def test_migrate_store_refuses_a_target_with_read_models(small: str, url: str) -> None:
    with opened(db=small) as original, opened(database_url=url) as target:
        head = original.application.recorder.max_notification_id()
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(
                "INSERT INTO specprojections_tracking (application_name, notification_id)"
                " VALUES ('Specs', %s)",
                (head,),
            )
        with pytest.raises(StoreNotEmpty):
            migrate_store(original, target)
        assert target.application.recorder.max_notification_id() is None


def test_a_source_whose_hash_chain_is_broken_is_refused_and_nothing_copied(
    small: str, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = str(tmp_path / "edited.db")
    shutil.copy(small, edited)
    shutil.copy(projections_path(small), projections_path(edited))
    with closing(sqlite3.connect(edited)) as connection:
        connection.execute(
            "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT),"
            " '\"reason\":\"comment\"', '\"reason\":\"edited\"') AS BLOB)"
        )
        connection.commit()
    assert migrate(edited, url) == 1
    err = capsys.readouterr().err
    assert err.startswith("StoreCorrupted: the source's hash chain is broken at position ")
    assert "(edited:" in err and "nothing copied" in err
    with psycopg.connect(url) as connection:
        assert connection.execute("SELECT count(*) FROM specs_events").fetchone() == (0,)
