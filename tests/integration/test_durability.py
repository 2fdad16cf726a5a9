"""Durability: WAL with synchronous=FULL in force, and no acknowledged write lost on SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from specsvc import SpecService, bootstrap
from specsvc.config import Settings
from specsvc.errors import SpecNotFound, Unavailable
from specsvc.operator import verify_projections

WRITER = """
import sys
import pytest

from specsvc import SpecService
from specsvc.config import Settings
from specsvc.errors import SpecNotFound, Unavailable
svc = SpecService.open(settings=Settings(db=sys.argv[1]))
n = 0
while True:
    svc.create_spec(f"spec-{n}", "generic", f"n: {n}\\n", actor="writer")
    print(f"spec-{n}", flush=True)
    n += 1
"""


def test_every_store_is_wal_with_synchronous_full(file_service: SpecService) -> None:
    info = file_service.storage_info()
    assert set(info) == {"events", "projections"}
    for store in info.values():
        assert (store["journal_mode"], store["synchronous"]) == ("wal", 2)
        with sqlite3.connect(store["database"]) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


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
