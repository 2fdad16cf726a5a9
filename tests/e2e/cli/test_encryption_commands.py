"""An encrypted store through real processes and the operator commands: the content is in
no database file (nor its WAL), everything works with the key, and a wrong or missing
key is one line and exit 2 from ``serve`` and from every store command."""

from __future__ import annotations

import base64
import io
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from specsvc import SpecService
from specsvc.cli import main
from specsvc.config import Settings
from tests.e2e.cli.test_serve_startup import assert_one_line_error, serve
from tests.support.processes import CLI, running
from tests.support.stores import scratch_database

VARIABLE = "SPECSVC_CIPHER_KEY_FILE"
SECRET = "launch-code-7f3a9c"
YAML = f"rule: {{field: email, matches: 'x@example'}}\nnote: {SECRET}\n"
# Lines of the content as they would appear in a plain store's files.
PLAIN_TEXTS = [SECRET, "matches: 'x@example'", "x@example"]


def new_key(path: Path) -> str:
    path.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    return str(path)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[CLI]:
    """``specsvc ARGV...`` in this process; ``key=`` sets the key file's variable (None:
    unset)."""

    def run(*argv: str, key: str | None = None) -> tuple[int, str, str]:
        if key is None:
            monkeypatch.delenv(VARIABLE, raising=False)
        else:
            monkeypatch.setenv(VARIABLE, key)
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    yield run


def assert_refused(result: tuple[int, str, str], *words: str) -> None:
    code, _, err = result
    assert code == 2, err
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("ConfigurationError: ") and VARIABLE in line, line
    for word in words:
        assert word in line, line


def checkpointed(folder: Path) -> None:
    for db in folder.rglob("*.db"):
        with closing(sqlite3.connect(db)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def assert_no_content_in(folder: Path, *, wal: bool = False) -> int:
    """No file below ``folder`` but the keys holds the content's text; with ``wal``, at
    least one ``-wal`` file is there to look in. Returns how many files were read."""
    files = [p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".key")]
    if wal:
        assert any(p.name.endswith("-wal") and p.stat().st_size for p in files), files
    for path in files:
        data = path.read_bytes()
        for text in PLAIN_TEXTS:
            assert text.encode() not in data, f"{text!r} in {path.name}"
    return len(files)


def populate(db: str, key: str) -> None:
    settings = Settings(db=db, cipher_key_file=key)
    with SpecService.open(settings=settings) as svc:
        svc.create_spec("rules", "generic", YAML, actor="alice", idempotency_key="k-1")
        for n in range(2, 12):  # a snapshot at the 10th event
            svc.update_spec("rules", YAML + f"# {n}\n", actor="alice", reason=f"v{n}")
        svc.publish_spec("rules", actor="bob", reason="reviewed")


def published(db: str, key: str) -> str:
    with SpecService.open(settings=Settings(db=db, cipher_key_file=key)) as svc:
        return str(svc.get_published("rules")["content"])


def test_served_exported_imported_backed_up_and_rebuilt_without_the_content_in_any_file(
    tmp_path: Path, cli: CLI
) -> None:
    key = new_key(tmp_path / "cipher.key")
    folder = tmp_path / "store"
    folder.mkdir()
    db = str(folder / "specs.db")
    with running("--db", db, "--rest-addr", "127.0.0.1:0", env={VARIABLE: key}) as server:
        body = {"name": "rules", "type": "generic", "content": YAML}
        status, created = server.json("POST", "/v1/specs", body, **{"Idempotency-Key": "k-1"})
        assert status == 201, created
        status, again = server.json("POST", "/v1/specs", body, **{"Idempotency-Key": "k-1"})
        assert (status, again) == (201, created)
        for n in range(2, 12):
            update = {"content": YAML + f"# {n}\n", "reason": f"v{n}"}
            assert server.json("PUT", "/v1/specs/rules/content", update)[0] == 200
        assert server.json("POST", "/v1/specs/rules/publish", {"reason": "ok"})[0] == 200
        status, served = server.json("GET", "/v1/specs/rules/published")
        assert (status, served["content"]) == (200, YAML + "# 11\n")
        # While serving, the latest commits are in the -wal files.
        assert assert_no_content_in(folder, wal=True) >= 4
        assert server.stop() == 0

    assert_one_line_error(
        serve("--db", db, "--rest-addr", "127.0.0.1:0", **{VARIABLE: new_key(tmp_path / "w.key")}),
        VARIABLE, "wrong key",
    )  # fmt: skip
    done = serve("--db", db, "--rest-addr", "127.0.0.1:0")
    assert_one_line_error(done, VARIABLE, "the store is encrypted")

    assert cli("verify", "--db", db, key=key)[0] == 0
    exported = str(tmp_path / "events.jsonl")
    assert cli("export", "--db", db, "--output", exported, key=key)[0] == 0
    (tmp_path / "copy").mkdir()
    copy = str(tmp_path / "copy" / "specs.db")
    code, out, err = cli("import", exported, "--db", copy, key=key)
    assert code == 0 and "no differences" in out, out + err
    assert cli("verify", "--db", copy, key=key)[0] == 0
    backup = str(tmp_path / "backup" / "specs.db")
    assert cli("backup", backup, "--db", db, key=key)[0] == 0
    assert cli("verify", "--db", backup, key=key)[0] == 0
    assert published(backup, key) == published(copy, key) == YAML + "# 11\n"
    code, out, _ = cli("rebuild-projections", "--db", db, key=key)
    assert code == 0 and "spec_versions" in out
    assert cli("verify", "--db", db, key=key)[0] == 0
    assert cli("status", "--db", db, key=key)[0] == 0
    checkpointed(tmp_path)
    assert assert_no_content_in(tmp_path) >= 7  # 3 stores of 2 files each, and the export


def test_every_store_command_refuses_a_wrong_or_missing_key_in_one_line(
    tmp_path: Path, cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, wrong = new_key(tmp_path / "cipher.key"), new_key(tmp_path / "wrong.key")
    db = str(tmp_path / "specs.db")
    populate(db, key)
    exported = str(tmp_path / "events.jsonl")
    assert cli("export", "--db", db, "--output", exported, key=key)[0] == 0
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    commands = [
        ["verify", "--db", db],
        ["export", "--db", db, "--output", str(tmp_path / "again.jsonl")],
        ["rebuild-projections", "--db", db],
        ["status", "--db", db],
    ]
    for argv in commands:
        assert_refused(cli(*argv, key=wrong), "wrong key for the store", wrong)
        assert_refused(cli(*argv), "the store is encrypted")
    new = str(tmp_path / "new.db")
    assert_refused(cli("import", exported, "--db", new, key=wrong), "wrong key for the export")
    assert_refused(cli("import", exported, "--db", new), "the export is encrypted")
    assert not (tmp_path / "again.jsonl").exists()
    assert published(db, key) == YAML + "# 11\n"  # nothing was changed


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "No such file"), (b"c2hvcnQ=\n", "16-, 24- or 32-byte"), (b"%%%", "base64")],
)
def test_a_key_file_that_cannot_be_used_is_one_line(
    tmp_path: Path, cli: CLI, content: bytes | None, words: str
) -> None:
    path = tmp_path / "cipher.key"
    if content is not None:
        path.write_bytes(content)
    db = str(tmp_path / "specs.db")
    populate(db, new_key(tmp_path / "real.key"))
    assert_refused(cli("verify", "--db", db, key=str(path)), str(path), words)
    done = serve("--db", db, "--rest-addr", "127.0.0.1:0", **{VARIABLE: str(path)})
    assert_one_line_error(done, VARIABLE, str(path), words)


def test_a_key_for_a_store_written_without_one_is_refused(tmp_path: Path, cli: CLI) -> None:
    db = str(tmp_path / "specs.db")
    with SpecService.open(db) as svc:
        svc.create_spec("plain", "generic", YAML, actor="alice")
    key = new_key(tmp_path / "cipher.key")
    assert_refused(cli("verify", "--db", db, key=key), "unencrypted events")
    assert cli("verify", "--db", db)[0] == 0


@pytest.mark.system
def test_migrate_copies_an_encrypted_store_into_postgres_with_its_key(
    tmp_path: Path, cli: CLI
) -> None:
    key = new_key(tmp_path / "cipher.key")
    db = str(tmp_path / "specs.db")
    populate(db, key)
    with scratch_database() as url:
        code, out, err = cli("migrate", "--from", db, "--to", url, key=key)
        assert code == 0 and "no differences" in out, out + err
        assert cli("verify", "--database-url", url, key=key)[0] == 0
        assert_refused(cli("verify", "--database-url", url), "the store is encrypted")
        with SpecService.open(
            settings=Settings(database_url=url, cipher_key_file=key)
        ) as svc:
            assert svc.get_spec("rules")["content"] == YAML + "# 11\n"
        args = ("--database-url", url, "--rest-addr", "127.0.0.1:0")
        with running(*args, env={VARIABLE: key}) as server:
            status, served = server.json("GET", "/v1/specs/rules/published")
            assert (status, served["content"]) == (200, YAML + "# 11\n")
            assert server.stop() == 0
        wrong = new_key(tmp_path / "wrong.key")
        assert_one_line_error(serve(*args, **{VARIABLE: wrong}), VARIABLE, "wrong key")
        worker = subprocess.run(
            [sys.executable, "-m", "specsvc.cli", "project", "--database-url", url],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, VARIABLE: wrong, "SPECSVC_LOG_FORMAT": "json"},
            check=False,
        )
        assert_one_line_error(worker, VARIABLE, "wrong key")


def test_verify_reports_stored_content_changed_on_disk(tmp_path: Path, cli: CLI) -> None:
    key = new_key(tmp_path / "cipher.key")
    db = str(tmp_path / "specs.db")
    populate(db, key)
    projections = str(tmp_path / "specs.projections.db")
    with closing(sqlite3.connect(projections)) as connection:
        (sealed,) = connection.execute(
            "SELECT content FROM spec_versions WHERE version = 1"
        ).fetchone()
        flipped = bytearray(base64.b64decode(sealed))
        flipped[-1] ^= 1
        connection.execute(
            "UPDATE spec_versions SET content = ? WHERE version = 1",
            (base64.b64encode(bytes(flipped)).decode(),),
        )
        connection.commit()
    code, out, err = cli("verify", "--db", db, key=key)
    assert code == 1, out + err
    (line,) = [line for line in out.splitlines() if "spec_versions" in line]
    assert "content is '(stored content that does not decrypt)'" in line
