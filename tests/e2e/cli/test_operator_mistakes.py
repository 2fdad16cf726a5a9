"""Operator paths that could leave wrong data looking right: read models that belong to
another store, rebuilds under load, and interrupted backups."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from specsvc import SpecService
from specsvc.cli import main
from tests.support.processes import Server, running

WAIT = 60.0  # a bound that stops a broken build from hanging; never a performance bound


def create(server: Server, name: str) -> int:
    spec = {"name": name, "type": "generic", "content": "a: 1\n"}
    status, body = server.json("POST", "/v1/specs", spec)
    assert status == 201, body
    return int(body["position"])


def names(server: Server) -> list[str]:
    return [s["name"] for s in server.json("GET", "/v1/specs?limit=500")[1]["specs"]]


def serve(db: Path) -> tuple[str, ...]:
    return ("--db", str(db), "--rest-addr", "127.0.0.1:0")


# --- 9. read models that do not belong to their event store ---------------------------------


def test_a_store_restored_from_an_older_backup_gets_read_models_of_its_own(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    with running(*serve(db)) as server:
        create(server, "a")
        create(server, "b")
        assert main(["backup", str(tmp_path / "old.db"), "--db", str(db)]) == 0
        create(server, "c")
        create(server, "d")
        assert names(server) == ["a", "b", "c", "d"]  # projected before the server is killed
    shutil.copy(tmp_path / "old.db", db)  # the events file only: the read models are newer
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    assert main(["verify", "--db", str(db)]) == 1  # an operator is told before anything serves
    with running(*serve(db)) as server:
        assert any("rebuilding them from the event store" in line for line in server.log)
        assert server.json("GET", "/readyz")[0] == 200
        assert names(server) == ["a", "b"]
        position = create(server, "e")
        assert position == 3
        events = server.json("GET", "/v1/events?after=0")[1]["events"]
        assert [(e["position"], e["spec"]) for e in events] == [(1, "a"), (2, "b"), (3, "e")]
    assert main(["verify", "--db", str(db)]) == 0


def test_read_models_kept_beside_a_new_event_store_are_not_served(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    with running(*serve(db)) as server:
        create(server, "old")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)  # the events file goes, its read models stay
    with running(*serve(db)) as server:
        assert names(server) == []
        assert create(server, "new") == 1
        assert names(server) == ["new"]


def test_verify_names_foreign_read_models_and_rebuild_replaces_them(
    tmp_path: Path, capsys: object
) -> None:
    db = tmp_path / "x.db"
    with running(*serve(db)) as server:
        create(server, "a")
        assert main(["backup", str(tmp_path / "old.db"), "--db", str(db)]) == 0
        create(server, "b")
        assert names(server) == ["a", "b"]  # projected before the server is killed
    shutil.copy(tmp_path / "old.db", db)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    assert main(["verify", "--db", str(db)]) == 1
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert (
        "projections: the read models have projected position 2,"
        " past the event store's last position 1"
    ) in out
    assert main(["rebuild-projections", "--db", str(db)]) == 0
    assert main(["verify", "--db", str(db)]) == 0


# --- 10. rebuilding while writers keep writing ----------------------------------------------


class Writers:
    """Threads creating specs through the server until stopped; every answer recorded."""

    def __init__(self, server: Server, count: int):
        self.server = server
        self.statuses: list[int] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(count)]

    def _run(self, worker: int) -> None:
        n = 0
        while not self.stopping.is_set():
            body = {"name": f"w{worker}-{n}", "type": "generic", "content": f"n: {n}\n"}
            self.statuses.append(self.server.json("POST", "/v1/specs", body)[0])
            n += 1

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()


def test_rebuild_completes_every_time_while_writers_keep_writing(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    with running(*serve(db)) as server:
        for n in range(300):
            create(server, f"seed-{n}")
        with Writers(server, 4) as writers:
            for _ in range(3):
                assert main(["rebuild-projections", "--db", str(db)]) == 0
        assert set(writers.statuses) == {201} and len(writers.statuses) > 0
        assert server.json("GET", "/readyz")[0] == 200
    assert main(["verify", "--db", str(db)]) == 0


def test_a_killed_rebuild_leaves_nothing_behind(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    with SpecService.open(str(db)) as seeding:
        for n in range(1500):
            seeding.create_spec(f"seed-{n}", "generic", "a: 1\n", actor="ops")
    with running(*serve(db)) as server:
        before = sorted(os.listdir(tmp_path))
        rebuild = subprocess.Popen(
            [sys.executable, "-m", "specsvc.cli", "rebuild-projections", "--db", str(db)]
        )
        time.sleep(0.5)
        rebuild.send_signal(signal.SIGKILL)
        rebuild.wait(timeout=WAIT)
        assert sorted(os.listdir(tmp_path)) == before
        assert server.json("GET", "/readyz")[0] == 200
    assert main(["verify", "--db", str(db)]) == 0


# --- 11. a backup killed midway ---------------------------------------------------------------

# A backup whose copy is slow: it stops after copying the event store to its partial file.
SLOW_BACKUP = """
import sys, time
from specsvc.persistence.sqlite import files
copy = files.copy_database
def slow(source, target):
    copy(source, target)
    print("copied", target, flush=True)
    time.sleep(600)
files.copy_database = slow
from specsvc.persistence.sqlite import backup as module
module.copy_database = slow
from specsvc import SpecService
from specsvc.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_backup_killed_midway_leaves_no_file_under_its_name_and_a_rerun_succeeds(
    tmp_path: Path,
) -> None:
    db, dest = tmp_path / "x.db", tmp_path / "backups" / "copy.db"
    with running(*serve(db)) as server:
        for n in range(20):
            create(server, f"s-{n}")
    backup = subprocess.Popen(
        [sys.executable, "-c", SLOW_BACKUP, "backup", str(dest), "--db", str(db)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert backup.stdout is not None and backup.stdout.readline().startswith("copied ")
    backup.send_signal(signal.SIGKILL)
    backup.wait(timeout=WAIT)
    assert not dest.exists()
    assert main(["backup", str(dest), "--db", str(db)]) == 0
    assert sorted(p.name for p in dest.parent.iterdir()) == ["copy.db", "copy.projections.db"]
    assert main(["verify", "--db", str(dest)]) == 0


def test_temporary_files_of_an_interrupted_rebuild_go_on_the_next_start(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    leftover = tmp_path / "tmpab12cd34.rebuild.db"  # named as earlier versions named them
    leftover.write_bytes(b"\0" * 1024)
    with running(*serve(db)) as server:
        assert any("left by an interrupted rebuild" in line for line in server.log)
    assert not leftover.exists()
