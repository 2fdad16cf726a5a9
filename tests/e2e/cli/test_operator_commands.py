"""Operator commands on store files: backup, export, import, verify, rebuild-projections,
and the refusals of migrate (its copies into PostgreSQL: tests/integration/test_migrate.py)."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from specsvc import SpecService, bootstrap
from specsvc.cli import main
from specsvc.cli.io import Progress
from specsvc.config import Settings
from specsvc.domainmodel import spec_id
from specsvc.errors import DestinationExists, StoreNotEmpty
from specsvc.operator import (
    export_events,
    import_events,
    parse_records,
    rebuild_read_models,
    verify_store,
)
from specsvc.persistence.sqlite.backup import backup
from specsvc.persistence.sqlite.files import projections_path
from specsvc.persistence.sqlite.swap import swap_in
from tests.support.processes import Server, running

TABLES = ["spec_summaries", "spec_versions", "audit_log"]

RULES = "rule: {field: email, matches: '@example\\.com$'}\n"


def populate(db: str) -> None:
    """A store with every kind of event, a snapshot, a rollback, a deletion, reasons."""
    with SpecService.open(db) as svc:
        svc.create_spec("rules", "regex-rules", RULES, actor="alice", reason="first")
        svc.create_spec("counter", "generic", "n: 1\n", actor="bob")
        for n in range(2, 13):  # 12 events: a snapshot at the 10th
            svc.update_spec("counter", f"n: {n}\n", actor="bob", reason=f"v{n}")
        svc.publish_spec("rules", actor="carol", reason="reviewed", correlation_id="req-1")
        svc.update_spec("rules", RULES + "# more\n", actor="alice", reason="comment")
        svc.publish_spec("rules", actor="carol", reason="roll forward")
        svc.publish_spec("rules", actor="carol", reason="roll back", version=1)
        svc.create_spec("gone", "generic", "a: 1\n", actor="dave")
        svc.delete_spec("gone", actor="dave", reason="unused")


def observed(db: str) -> dict[str, Any]:
    """Everything the API says about the store: states, versions, histories, the log."""
    with SpecService.open(db) as svc:
        names = [s["name"] for s in svc.list_specs(limit=500)["specs"]] + [
            s["name"] for s in svc.list_specs(state="deleted", limit=500)["specs"]
        ]
        return {
            "specs": {
                name: (svc.get_spec(name), svc.list_versions(name), svc.history(name))
                for name in names
            },
            "log": svc.list_events(limit=500),
        }


@contextmanager
def opened(db: str, role: bootstrap.Role = bootstrap.Role.TOOL) -> Iterator[bootstrap.Components]:
    """The store at ``db`` started as an operator command starts it."""
    store = bootstrap.start(Settings(db=db), role)
    try:
        yield store
    finally:
        store.service.close()


def differences(db: str) -> list[str]:
    with opened(db) as store:
        return list(verify_store(store)["differences"])


def export_to(db: str, out: Any) -> None:
    with opened(db, bootstrap.Role.MAINTENANCE) as store:
        export_events(store.application.recorder, out)


def import_into(db: str, lines: Any) -> dict[str, Any]:
    with opened(db) as store:
        return import_events(store, parse_records(lines))


def audit_rows(path: str) -> int:
    with closing(sqlite3.connect(path)) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])


def tamper(path: str, *statements: str) -> None:
    with closing(sqlite3.connect(path)) as connection:
        for statement in statements:
            connection.execute(statement)
        connection.commit()


@pytest.fixture
def store(tmp_path: Path) -> str:
    db = str(tmp_path / "specs.db")
    populate(db)
    return db


def test_export_then_import_gives_identical_state_versions_and_history(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = str(tmp_path / "events.jsonl")
    assert main(["export", "--db", store, "--output", exported]) == 0
    records = [json.loads(line) for line in Path(exported).read_text().splitlines()]
    assert [r["position"] for r in records] == list(range(1, len(records) + 1))
    assert records[0]["state"]["name"] == "rules" and records[0]["topic"].endswith("SpecCreated")
    restored = str(tmp_path / "restored.db")
    assert main(["import", exported, "--db", restored]) == 0
    assert capsys.readouterr().out.endswith(": no differences\n")
    assert observed(restored) == observed(store)
    assert differences(restored) == []


def test_export_to_stdout_is_json_lines_only(
    store: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(["export", "--db", store]) == 0
    out, err = capsysbinary.readouterr()
    lines = out.splitlines()
    assert err == b"" and len(lines) == 19
    fields = {"position", "originator_id", "originator_version", "topic", "state", "chain"}
    records = [json.loads(line) for line in lines]
    assert all(set(record) == fields for record in records)
    # Each record names the one before it in the hash chain.
    assert [r["chain"]["previous"] for r in records] == [0, *(r["position"] for r in records[:-1])]


def test_export_piped_into_import_restores_the_store(store: str, tmp_path: Path) -> None:
    restored = str(tmp_path / "piped.db")
    command = [sys.executable, "-m", "specsvc.cli"]
    exporter = subprocess.Popen([*command, "export", "--db", store], stdout=subprocess.PIPE)
    importer = subprocess.run(
        [*command, "import", "-", "--db", restored], stdin=exporter.stdout, capture_output=True
    )
    assert exporter.wait(timeout=60) == 0 and importer.returncode == 0, importer.stderr
    assert importer.stdout.endswith(
        b"19 events of 3 specs imported into " + restored.encode() + b": no differences\n"
    )
    assert observed(restored) == observed(store)


def test_import_refuses_a_store_that_is_not_empty(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = tmp_path / "events.jsonl"
    with exported.open("wb") as out:
        export_to(store, out)
    assert main(["import", str(exported), "--db", store]) == 5
    err = capsys.readouterr().err
    assert err.startswith("StoreNotEmpty: ") and "import only into an empty store" in err
    with pytest.raises(StoreNotEmpty), exported.open("rb") as lines:
        import_into(store, lines)
    assert len(observed(store)["log"]["events"]) == 19


def test_import_keeps_gaps_in_positions_and_restores_base64_states(
    store: str, tmp_path: Path
) -> None:
    buffer = io.BytesIO()
    export_to(store, buffer)
    records = [json.loads(line) for line in buffer.getvalue().splitlines()][:3]
    for record in records:  # as an export written before the hash chain existed
        del record["chain"]
    records[1]["position"], records[2]["position"] = 5, 9
    records[2]["state"] = base64.b64encode(
        json.dumps(records[2]["state"], separators=(",", ":"), ensure_ascii=False).encode()
    ).decode()
    lines = [json.dumps(r).encode() for r in records]
    restored = str(tmp_path / "gaps.db")
    assert import_into(restored, lines)["differences"] == []
    positions = [e["position"] for e in observed(restored)["log"]["events"]]
    assert positions == [1, 5, 9]


def test_import_refuses_an_export_whose_chain_is_broken_and_writes_nothing(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    buffer = io.BytesIO()
    export_to(store, buffer)
    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    records[4]["state"]["reason"] = "edited after the export"
    broken = tmp_path / "broken.jsonl"
    broken.write_text("".join(json.dumps(r) + "\n" for r in records))
    restored = str(tmp_path / "refused.db")
    assert main(["import", str(broken), "--db", restored]) == 3
    err = capsys.readouterr().err
    assert err.startswith("BadRequest: the export's hash chain is broken (1 problems): position 5:")
    assert observed(restored)["log"]["events"] == []
    del records[4]  # an event left out
    broken.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["import", str(broken), "--db", restored]) == 3
    assert "position 6: chains to position 5, not to 4" in capsys.readouterr().err


def test_import_rejects_a_malformed_file_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"position": 1, "originator_id": "nope"}\n')
    restored = str(tmp_path / "r.db")
    assert main(["import", str(bad), "--db", restored]) == 3
    assert capsys.readouterr().err.startswith("BadRequest: line 1: ")
    assert observed(restored)["log"]["events"] == []


def test_verify_is_clean_on_a_good_store(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--db", store]) == 0
    assert capsys.readouterr().out == "3 specs, 19 events checked: no differences\n"


def test_verify_reports_every_tampered_projection_row(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(
        projections_path(store),
        "UPDATE spec_summaries SET state='deprecated' WHERE name='rules'",
        "DELETE FROM audit_log WHERE position=2",
    )
    assert main(["verify", "--db", store]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(
        line.startswith("position 17: read model differs: projections: spec_summaries ")
        and line.endswith(": state is 'deprecated', the rebuild has 'published'")
        for line in out
    )
    assert "position 2: read model differs: projections: audit_log 2: missing" in [
        line.split(" (")[0] for line in out
    ]
    assert out[-1] == "3 specs, 19 events checked: 2 differences"


def test_verify_finds_a_snapshot_that_disagrees_with_the_events(store: str) -> None:
    tamper(
        store,
        "UPDATE stored_snapshots SET state = CAST(replace(CAST(state AS TEXT),"
        ' \'"created_by":"bob"\', \'"created_by":"mallory"\') AS BLOB)',
    )
    assert differences(store) == [
        "position 11: snapshot differs: spec counter at event 10.created_by: the snapshot"
        " has 'mallory', the replay of its events has 'bob'",
        f"position 11: snapshot differs: the snapshot at event 10 of spec {spec_id('counter')}"
        " does not match its hash",
    ]


def test_backup_refuses_to_overwrite(store: str, tmp_path: Path) -> None:
    Path(tmp_path / "taken.db").write_bytes(b"")
    with pytest.raises(DestinationExists):
        backup(store, str(tmp_path / "taken.db"))
    assert main(["backup", str(tmp_path / "taken.db"), "--db", store]) == 5


def test_operator_commands_need_an_existing_store(tmp_path: Path) -> None:
    assert main(["verify", "--db", str(tmp_path / "none.db")]) == 4
    assert not (tmp_path / "none.db").exists()


def test_migrate_refuses_what_it_cannot_copy_before_connecting_anywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on port 9: each refusal comes before any connection is tried.
    nowhere = "postgresql://nobody@127.0.0.1:9/none"
    monkeypatch.delenv("SPECSVC_DATABASE_URL", raising=False)
    assert main(["migrate", "--from", str(tmp_path / "none.db"), "--to", nowhere]) == 4
    assert not (tmp_path / "none.db").exists()
    assert main(["migrate", "--from", nowhere, "--to", nowhere]) == 2
    assert main(["migrate", "--from", "specs.db", "--to", "specs.db"]) == 2
    assert main(["migrate", "--from", "specs.db"]) == 2
    err = capsys.readouterr().err
    assert "StoreNotFound: no event store at" in err
    assert "--from takes the path of a SQLite store file, not a URL" in err
    assert "--to takes a postgresql://USER@HOST:PORT/DB URL, not 'specs.db'" in err
    assert "--to postgresql://USER@HOST:PORT/DB is required" in err
    monkeypatch.setenv("SPECSVC_DATABASE_URL", "specs.db")  # --to's variable
    assert main(["migrate", "--from", "specs.db", "--json"]) == 2
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "UsageError"


def test_migrate_help_shows_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--help"]) == 0
    out = capsys.readouterr().out
    assert "specsvc migrate --from specs.db --to postgresql://" in out
    assert "--verify-only" in out and "SPECSVC_DATABASE_URL" in out and "exit codes:" in out


def test_progress_is_drawn_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        with Progress(stream) as progress:
            progress("export", 5, 10)
    assert terminal.getvalue() == "\rexport       [###############...............] 5/10\n"
    assert pipe.getvalue() == ""


class Writer(threading.Thread):
    """Creates specs through the server until stopped; notes when each was acknowledged."""

    def __init__(self, server: Server, prefix: str):
        super().__init__()
        self.server, self.prefix = server, prefix
        self.acknowledged: list[tuple[str, float]] = []
        self.failures: list[int] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            name = f"{self.prefix}-{n}"
            body = {"name": name, "type": "generic", "content": f"n: {n}\n"}
            status, _ = self.server.json("POST", "/v1/specs", body)
            if status == 201:
                self.acknowledged.append((name, time.monotonic()))
            else:
                self.failures.append(status)
            n += 1

    def stop(self) -> None:
        self.stopping.set()
        self.join()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Server]]:
    db = str(tmp_path / "live.db")
    with running("--db", db, "--rest-addr", "127.0.0.1:0") as server:
        yield db, server


def test_backup_while_a_server_keeps_writing(
    served: tuple[str, Server], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, server = served
    writer = Writer(server, "w")
    writer.start()
    try:
        while len(writer.acknowledged) < 30:
            time.sleep(0.01)
        started = time.monotonic()
        dest = str(tmp_path / "backups" / "copy.db")  # a folder that does not exist yet
        assert main(["backup", dest, "--db", db]) == 0
    finally:
        writer.stop()
    out = capsys.readouterr().out
    assert f"{db} -> {dest}: " in out and " events, last position " in out
    before = {name for name, at in writer.acknowledged if at < started}
    assert differences(dest) == []
    with SpecService.open(dest) as copy:
        names = {s["name"] for s in copy.list_specs(limit=500)["specs"]}
    assert before <= names and writer.failures == []


def test_rebuild_restores_a_tampered_read_model_while_serving(
    served: tuple[str, Server], capsys: pytest.CaptureFixture[str]
) -> None:
    db, server = served
    for n in range(5):
        server.json("POST", "/v1/specs", {"name": f"r-{n}", "type": "generic", "content": "a: 1\n"})
    server.json("POST", "/v1/specs/r-0/publish", {"reason": "go"})
    assert server.json("GET", "/v1/specs")[0] == 200  # every write projected
    tamper(
        projections_path(db),
        "UPDATE spec_summaries SET created_by='mallory' WHERE name='r-0'",
        "DELETE FROM audit_log WHERE position=2",
    )
    # Rows changed on disk are never served: the reads that meet them answer
    # StoreCorrupted, and the server is unready until the rows are repaired.
    status, body = server.json("GET", "/v1/specs")
    assert status == 500 and body["error"]["code"] == "StoreCorrupted"
    assert body["error"]["details"] == {"position": 6, "kind": "read model differs"}
    assert server.json("GET", "/v1/specs/r-1/history")[1]["error"]["details"]["position"] == 2
    assert server.json("GET", "/readyz")[0] == 503
    statuses: list[int] = []
    stopping = threading.Event()

    def read() -> None:
        while not stopping.is_set():
            statuses.append(server.json("GET", "/v1/specs?limit=500")[0])
            statuses.append(server.json("GET", "/v1/specs/r-1/history")[0])

    reader, writer = threading.Thread(target=read), Writer(server, "during")
    reader.start()
    writer.start()
    try:
        time.sleep(0.2)
        assert main(["rebuild-projections", "--db", db]) == 0
        repaired = len(statuses)
        time.sleep(0.2)
    finally:
        stopping.set()
        reader.join()
        writer.stop()
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["table", "before", "after"]
    assert out[-1].startswith("tracking position ")
    assert set(statuses) <= {200, 500} and writer.failures == []
    assert set(statuses[repaired + 1 :]) == {200}  # the one read racing the swap aside
    listed = {s["name"]: s for s in server.json("GET", "/v1/specs?limit=500")[1]["specs"]}
    assert listed["r-0"]["state"] == "published" and listed["r-0"]["created_by"] != "mallory"
    assert {name for name, _ in writer.acknowledged} <= set(listed)
    assert server.json("GET", "/readyz")[0] == 200
    assert differences(db) == []


def test_rebuild_reports_row_counts_before_and_after(store: str) -> None:
    tamper(projections_path(store), "DELETE FROM spec_versions WHERE version > 5")
    with opened(store, bootstrap.Role.MAINTENANCE) as started:
        report = rebuild_read_models(started)
    assert report["before"]["spec_versions"] == 8 and report["after"]["spec_versions"] == 15
    assert report["before"]["audit_log"] == report["after"]["audit_log"] == 19
    assert report["position"] == {"before": 19, "after": 19}
    assert differences(store) == []


def test_a_swap_never_moves_the_tracking_position_back(store: str, tmp_path: Path) -> None:
    live, fresh = projections_path(store), str(tmp_path / "fresh.db")
    with closing(sqlite3.connect(live)) as source, closing(sqlite3.connect(fresh)) as copy:
        source.backup(copy)
    tamper(fresh, "DELETE FROM audit_log", "UPDATE tracking SET notification_id=3")
    assert swap_in(live, fresh, "Specs", tables=TABLES, timeout=5) is False
    assert audit_rows(live) == 19
    tamper(fresh, "UPDATE tracking SET notification_id=19")
    assert swap_in(live, fresh, "Specs", tables=TABLES, timeout=5) is True
    assert audit_rows(live) == 0
