"""Durability: WAL with synchronous=FULL in force for the events (NORMAL for the read
models, which resume from them), and no acknowledged write lost on SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError

from specsvc import SpecService, bootstrap
from specsvc.cli import main
from specsvc.config import Settings
from specsvc.errors import SpecNotFound, Unavailable
from specsvc.operator import verify_projections
from specsvc.persistence.sqlite.datastore import check_durable
from specsvc.persistence.sqlite.files import projections_path

WRITER = """
import sys
import pytest

from specsvc import SpecService
from specsvc.config import Settings
from specsvc.errors import SpecNotFound, Unavailable
from specsvc.persistence.sqlite.datastore import check_durable
from specsvc.persistence.sqlite.files import projections_path
svc = SpecService.open(settings=Settings(db=sys.argv[1]))
n = 0
while True:
    svc.create_spec(f"spec-{n}", "generic", f"n: {n}\\n", actor="writer")
    print(f"spec-{n}", flush=True)
    n += 1
"""


def test_the_event_store_is_wal_with_synchronous_full_and_the_read_models_normal(
    file_service: SpecService,
) -> None:
    info = file_service.storage_info()
    assert set(info) == {"events", "projections"}
    assert info["events"]["synchronous"] == 2 and info["projections"]["synchronous"] == 1
    for store in info.values():
        assert store["journal_mode"] == "wal"
        with sqlite3.connect(store["database"]) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_only_the_read_models_may_run_synchronous_normal() -> None:
    normal = {"database": "x", "journal_mode": "wal", "synchronous": 1}
    check_durable("projections", normal)
    with pytest.raises(OperationalError, match="the events store is not durable"):
        check_durable("events", normal)
    with pytest.raises(OperationalError):
        check_durable("projections", {**normal, "synchronous": 0})


def test_read_models_that_lost_their_last_commits_resume_where_they_stopped(
    tmp_path: Path,
) -> None:
    """A power loss may drop the read models' last commits (synchronous=NORMAL), never
    the events': the read models then stand at an earlier tracked position, as a copy
    taken earlier does, and catch up from there to what a rebuild makes."""
    db = tmp_path / "specs.db"
    projections = Path(projections_path(str(db)))
    with SpecService.open(str(db)) as svc:
        for n in range(5):
            svc.create_spec(f"s{n}", "generic", f"n: {n}\n", actor="alice")
    earlier = tmp_path / "earlier.db"
    shutil.copy(projections, earlier)
    with SpecService.open(str(db)) as svc:
        svc.update_spec("s1", "n: 10\n", actor="alice", reason="later")
        svc.publish_spec("s1", actor="bob", reason="go")
        svc.delete_spec("s2", actor="bob", reason="gone")
    shutil.copy(earlier, projections)
    with SpecService.open(str(db)) as svc:
        assert svc.get_published("s1")["content"] == "n: 10\n"
        assert [s["name"] for s in svc.list_specs()["specs"]] == ["s0", "s1", "s3", "s4"]
        assert [e["position"] for e in svc.list_events()["events"]] == list(range(1, 9))
    assert main(["verify", "--db", str(db)]) == 0


def test_projections_file_sits_beside_the_event_store(tmp_path: Path) -> None:
    with SpecService.open(str(tmp_path / "prod.sqlite3")) as svc:
        assert svc.storage_info()["projections"]["database"] == str(
            tmp_path / "prod.projections.sqlite3"
        )


def test_no_acknowledged_write_is_lost_on_sigkill(tmp_path: Path) -> None:
    db = str(tmp_path / "specs.db")
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, db], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    assert writer.stdout is not None
    acknowledged = [writer.stdout.readline().strip() for _ in range(40)]
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    store = bootstrap.start(Settings(db=db))
    with store.service as svc:
        for name in acknowledged:
            assert svc.get_spec(name)["content"] == f"n: {name.split('-')[1]}\n"
        listed = {s["name"] for s in svc.list_specs(limit=500)["specs"]}
        assert set(acknowledged) <= listed
        assert verify_projections(store)["equal"] is True


def test_a_store_busy_past_its_timeout_is_unavailable(tmp_path: Path) -> None:
    db = str(tmp_path / "specs.db")
    with SpecService.open(settings=Settings(db=db, sqlite_lock_timeout=1)) as svc:
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(Unavailable) as caught:
                svc.create_spec("blocked", "generic", "a: 1\n", actor="alice")
            assert caught.value.code == "Unavailable"
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        with pytest.raises(SpecNotFound):
            svc.get_spec("blocked")
        assert svc.create_spec("blocked", "generic", "a: 1\n", actor="alice")["version"] == 1


def test_snapshots_commit_without_waiting_for_the_disk_and_events_still_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from specsvc.application import SNAPSHOT_INTERVAL
    from specsvc.persistence.sqlite import datastore as datastores

    with SpecService.open(settings=Settings(db=str(tmp_path / "s.db"))) as svc:
        svc.create_spec("snap", "generic", "n: 1\n", actor="alice")
        events = svc._app.recorder.datastore  # type: ignore[attr-defined]
        writes = events._write_connection()
        levels: list[int] = []  # the level each write transaction of the events file began at
        begin = datastores.ImmediateTransaction.__enter__

        def watched(transaction: datastores.ImmediateTransaction) -> object:
            if transaction.connection is writes:
                sql = writes._sqlite_conn
                levels.append(sql.execute("PRAGMA synchronous").fetchone()[0])
            return begin(transaction)

        monkeypatch.setattr(datastores.ImmediateTransaction, "__enter__", watched)
        for n in range(2, SNAPSHOT_INTERVAL + 2):
            svc.update_spec("snap", f"n: {n}\n", actor="alice", reason="r")
        assert svc._app.snapshots is not None
        assert len(list(svc._app.snapshots.get(svc._app.get("snap").id))) == 1
        # Ten events at FULL (2), the snapshot at NORMAL (1), and FULL again afterwards.
        assert sorted(levels) == [1] + [2] * SNAPSHOT_INTERVAL
        assert writes._sqlite_conn.execute("PRAGMA synchronous").fetchone()[0] == 2
