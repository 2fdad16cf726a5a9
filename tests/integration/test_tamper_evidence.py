"""Direct edits of the SQLite files, as an attacker with write access to them would make:
``verify`` names each one's position and kind, and the service either refuses to start
or answers StoreCorrupted for the spec concerned (docs/behaviour.md, Tamper evidence).

The store: spec ``alpha`` with 25 events at positions 1-25 (snapshots at its events 10 and
20), ``beta`` with 3 at 26-28, ``gamma`` with 1 at 29.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from specsvc import SpecService, bootstrap
from specsvc.cli import main
from specsvc.config import Settings
from specsvc.domainmodel import spec_id
from specsvc.errors import StoreCorrupted
from specsvc.operator import verify_store
from specsvc.persistence.sqlite.files import projections_path

ALPHA, BETA, GAMMA = (spec_id(name).hex for name in ("alpha", "beta", "gamma"))
EVENTS = "stored_events"


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("original") / "specs.db"
    with SpecService.open(str(db)) as svc:
        svc.create_spec("alpha", "generic", "n: 1\n", actor="alice")
        for n in range(2, 26):
            svc.update_spec("alpha", f"n: {n}\n", actor="alice", reason=f"v{n}")
        svc.create_spec("beta", "generic", "b: 1\n", actor="bob")
        svc.update_spec("beta", "b: 2\n", actor="bob", reason="two")
        svc.publish_spec("beta", actor="carol", reason="ship")
        svc.create_spec("gamma", "generic", "g: 1\n", actor="bob")
    return db


@pytest.fixture
def db(original: Path, tmp_path: Path) -> Path:
    """A copy of the store for one test to edit."""
    copy = tmp_path / "specs.db"
    shutil.copy(original, copy)
    shutil.copy(projections_path(str(original)), projections_path(str(copy)))
    return copy


def edit(path: Path | str, *statements: str, params: tuple[Any, ...] = ()) -> None:
    with closing(sqlite3.connect(path)) as connection:
        for statement in statements:
            connection.execute(statement, params if "?" in statement else ())
        connection.commit()


def rows(path: Path, statement: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(statement).fetchall()


def verified(db: Path) -> dict[str, Any]:
    store = bootstrap.open_existing(Settings(db=str(db)), bootstrap.Role.TOOL)
    try:
        return verify_store(store)
    finally:
        store.service.close()


def kinds(report: dict[str, Any]) -> set[tuple[int | None, str]]:
    return {(p["position"], p["kind"]) for p in report["problems"]}


def refused_start(db: Path) -> StoreCorrupted:
    with pytest.raises(StoreCorrupted) as refused:
        SpecService.open(str(db))
    return refused.value


def moment_of(svc: SpecService, name: str, sequence: int) -> datetime:
    events = svc.history(name)["events"]
    return datetime.fromisoformat(str(events[sequence - 1]["timestamp"]))


@pytest.fixture
def running(db: Path) -> Iterator[SpecService]:
    """The service, started before the edit (its start-up check passed)."""
    with SpecService.open(str(db)) as svc:
        yield svc


def test_an_untouched_store_verifies_and_starts(db: Path) -> None:
    report = verified(db)
    assert report["differences"] == [] and report["events"] == 29
    with SpecService.open(str(db)) as svc:
        assert svc.get_spec("alpha")["version"] == 25


def test_an_edited_event_payload(db: Path, running: SpecService) -> None:
    edit(
        db,
        f"UPDATE {EVENTS} SET state = CAST(replace(CAST(state AS TEXT), 'n: 5', 'n: 500')"
        " AS BLOB) WHERE rowid = 5",
    )
    assert (5, "edited") in kinds(verified(db))
    assert refused_start(db).details["position"] == 5
    with pytest.raises(StoreCorrupted) as answered:
        running.get_spec("alpha", version=5)
    assert answered.value.details == {"position": 5, "kind": "edited"}
    assert running.store_status()["state"] == "corrupted"
    assert running.store_status()["position"] == 5


def test_an_event_deleted_from_the_middle(db: Path, running: SpecService) -> None:
    edit(db, f"DELETE FROM {EVENTS} WHERE rowid = 27")
    assert (27, "deleted") in kinds(verified(db))
    assert refused_start(db).details == {"position": 27, "kind": "deleted", "problems": 1}
    with pytest.raises(StoreCorrupted) as answered:
        running.get_spec("beta")
    assert answered.value.details["position"] == 27
    with pytest.raises(StoreCorrupted):  # its next write cannot win either
        running.update_spec("beta", "b: 3\n", actor="bob", reason="three")


def test_a_spec_s_last_event_deleted_makes_its_next_write_store_corrupted(
    db: Path, running: SpecService
) -> None:
    edit(db, f"DELETE FROM {EVENTS} WHERE rowid = 28")  # beta's publication
    assert (28, "deleted") in kinds(verified(db))
    assert running.get_spec("beta")["state"] == "draft"  # what the log still holds
    with pytest.raises(StoreCorrupted) as answered:  # not Unavailable after retries
        running.update_spec("beta", "b: 3\n", actor="bob", reason="three")
    assert answered.value.details["position"] == 28
    assert answered.value.details["kind"] == "deleted"
    assert running.store_status()["state"] == "corrupted"


def test_an_event_deleted_with_its_link(db: Path, running: SpecService) -> None:
    edit(db, f"DELETE FROM {EVENTS} WHERE rowid = 27", "DELETE FROM event_chain WHERE position=27")
    assert (27, "deleted") in kinds(verified(db))
    assert refused_start(db).details["position"] == 27
    with pytest.raises(StoreCorrupted) as answered:
        running.get_spec("beta")
    assert answered.value.details == {"position": 27, "kind": "deleted"}


def swap(db: Path, a: int, b: int) -> None:
    """The events at positions ``a`` and ``b`` trade places."""
    edit(
        db,
        f"UPDATE {EVENTS} SET rowid = -1 WHERE rowid = {a}",
        f"UPDATE {EVENTS} SET rowid = {a} WHERE rowid = {b}",
        f"UPDATE {EVENTS} SET rowid = {b} WHERE rowid = -1",
    )


def test_two_events_swapped(db: Path, running: SpecService) -> None:
    swap(db, 22, 23)
    report = verified(db)
    assert {(22, "reordered"), (23, "reordered")} <= kinds(report)
    assert refused_start(db).details["position"] == 22
    with pytest.raises(StoreCorrupted):
        running.get_spec("alpha")


def test_a_forged_event_appended_with_its_timeline_row(db: Path, running: SpecService) -> None:
    # gamma's "second event": beta's update, re-addressed, and a timeline row to match.
    (topic, state), *_ = rows(db, f"SELECT topic, state FROM {EVENTS} WHERE rowid = 27")
    (timestamp,), *_ = rows(db, "SELECT timestamp FROM spec_timeline WHERE position = 29")
    edit(
        db,
        f"INSERT INTO {EVENTS} (rowid, originator_id, originator_version, topic, state)"
        " VALUES (30, ?, 2, ?, ?)",
        params=(GAMMA, topic, state),
    )
    edit(
        db,
        "INSERT INTO spec_timeline (spec_id, sequence, position, timestamp, content_version)"
        " VALUES (?, 2, 30, ?, 2)",
        params=(rows(db, "SELECT spec_id FROM spec_timeline WHERE position = 29")[0][0], timestamp),
    )
    assert (30, "inserted") in kinds(verified(db))
    assert refused_start(db).details == {"position": 30, "kind": "inserted", "problems": 1}
    with pytest.raises(StoreCorrupted) as answered:
        running.get_spec("gamma")
    assert answered.value.details == {"position": 30, "kind": "inserted"}


def truncate(db: Path, after: int) -> None:
    """The last events gone, with their links, timeline rows and read models."""
    edit(
        db,
        f"DELETE FROM {EVENTS} WHERE rowid > {after}",
        f"DELETE FROM event_chain WHERE position > {after}",
        f"DELETE FROM spec_timeline WHERE position > {after}",
    )
    for suffix in ("", "-wal", "-shm"):
        Path(projections_path(str(db)) + suffix).unlink(missing_ok=True)


def test_the_last_events_truncated_are_found_against_a_checkpoint(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = tmp_path / "head.json"
    assert main(["verify", "--db", str(db), "--checkpoint", str(checkpoint)]) == 0
    assert "checkpoint at position 29 written" in capsys.readouterr().out
    truncate(db, 26)
    edit(db, "DELETE FROM chain_checkpoints")  # the store forgets it; the file does not
    assert verified(db)["differences"] == []  # consistent with itself...
    assert main(["verify", "--db", str(db), "--against", str(checkpoint), "--json"]) == 1
    import json

    report = json.loads(capsys.readouterr().out)
    assert {"position": 29, "kind": "truncated"} in [
        {"position": p["position"], "kind": p["kind"]} for p in report["problems"]
    ]


def test_a_truncation_below_a_checkpoint_the_store_knows_stops_the_start(
    db: Path, tmp_path: Path
) -> None:
    assert main(["verify", "--db", str(db), "--checkpoint", str(tmp_path / "head.json")]) == 0
    truncate(db, 26)
    refused = refused_start(db)
    assert refused.details["position"] == 29 and refused.details["kind"] == "truncated"


def test_a_historical_snapshot_edited(db: Path, running: SpecService) -> None:
    edit(
        db,
        "UPDATE stored_snapshots SET state = CAST(replace(CAST(state AS TEXT), 'n: 10',"
        " 'n: 1000') AS BLOB) WHERE originator_version = 10",
    )
    assert (10, "snapshot differs") in kinds(verified(db))
    # Event 15 of alpha is read from the snapshot at its event 10: refused, never served.
    with pytest.raises(StoreCorrupted) as answered:
        running.get_spec("alpha", as_of=moment_of(running, "alpha", 15))
    assert answered.value.details == {"position": 10, "kind": "snapshot differs"}
    assert running.get_spec("alpha")["content"] == "n: 25\n"  # later snapshot: intact


def test_a_snapshot_forged_without_a_hash_is_never_read(db: Path) -> None:
    edit(
        db,
        "DELETE FROM snapshot_chain WHERE originator_version = 20",
        "UPDATE stored_snapshots SET state = CAST(replace(CAST(state AS TEXT), 'n: 20',"
        " 'n: 2000') AS BLOB) WHERE originator_version = 20",
    )
    assert (20, "snapshot differs") in kinds(verified(db))
    with SpecService.open(str(db)) as svc:  # the events are replayed instead
        assert svc.get_spec("alpha", as_of=moment_of(svc, "alpha", 21))["content"] == "n: 21\n"


def test_an_event_edited_then_the_read_models_rebuilt(db: Path) -> None:
    edit(
        db,
        f"UPDATE {EVENTS} SET state = CAST(replace(CAST(state AS TEXT), 'b: 2', 'b: 9')"
        " AS BLOB) WHERE rowid = 27",
    )
    assert main(["rebuild-projections", "--db", str(db)]) == 0
    # The read models now agree with the edited event; the chain still names it.
    assert (27, "edited") in kinds(verified(db))
    assert refused_start(db).details["position"] == 27


def test_read_model_rows_edited_or_deleted(db: Path) -> None:
    edit(
        projections_path(str(db)),
        f"UPDATE spec_versions SET content = 'b: 666' WHERE spec_id = '{spec_id('beta')}'"
        " AND version = 2",
        "DELETE FROM audit_log WHERE position = 29",
    )
    # Each row is named by the position of the event whose projection wrote it.
    assert kinds(verified(db)) == {(27, "read model differs"), (29, "read model differs")}


def read_model_corruption(call: Any) -> dict[str, Any]:
    with pytest.raises(StoreCorrupted) as answered:
        call()
    return dict(answered.value.details)


READ_MODEL = "read model differs"


def test_an_edited_version_row_is_never_served(db: Path, running: SpecService) -> None:
    # Beta's version 2 (position 27) is its published one: the published read, the
    # version read, a diff and an evaluation all read the row.
    edit(
        projections_path(str(db)),
        f"UPDATE spec_versions SET content = 'b: 666' WHERE spec_id = '{spec_id('beta')}'"
        " AND version = 2",
    )
    expected = {"position": 27, "kind": READ_MODEL}
    assert read_model_corruption(lambda: running.get_published("beta")) == expected
    assert read_model_corruption(lambda: running.get_version("beta", 2)) == expected
    assert read_model_corruption(lambda: running.diff("beta", 1, 2)) == expected
    assert running.get_version("beta", 1)["content"] == "b: 1\n"  # its other rows still serve
    status = running.store_status()
    assert status["state"] == "corrupted" and status["kind"] == READ_MODEL
    assert "rebuild-projections" in status["reason"]


def test_edited_summary_and_audit_rows_are_never_served(db: Path, running: SpecService) -> None:
    edit(
        projections_path(str(db)),
        "UPDATE audit_log SET actor = 'mallory' WHERE position = 29",
        f"UPDATE spec_summaries SET state = 'published' WHERE id = '{spec_id('alpha')}'",
    )
    assert read_model_corruption(lambda: running.history("gamma")) == {
        "position": 29,
        "kind": READ_MODEL,
    }
    assert read_model_corruption(lambda: running.list_events(after=20))["position"] == 29
    assert running.list_events(limit=28)["events"][-1]["position"] == 28  # rows before it
    # The summary's hash covers its revision: its position is that event's (25).
    assert read_model_corruption(lambda: running.list_specs()) == {
        "position": 25,
        "kind": READ_MODEL,
    }
    assert read_model_corruption(lambda: running.list_versions("alpha"))["position"] == 25
    assert running.list_versions("beta")["versions"][-1]["version"] == 2


def test_a_row_rehashed_without_the_chain_key_is_refused(tmp_path: Path) -> None:
    from specsvc.persistence.chain import Chain

    key = tmp_path / "chain.key"
    key.write_text("c2VjcmV0LWtleS1vZi1hdC1sZWFzdC0zMi1ieXRlcy1sb25n\n")
    db = tmp_path / "keyed.db"
    settings = Settings(db=str(db), chain_key_file=str(key))
    with SpecService.open(settings=settings) as svc:
        svc.create_spec("alpha", "generic", "a: 1\n", actor="alice")
        assert svc.catch_up()
        columns = "position, spec, sequence, event, timestamp, actor, correlation_id, reason,"
        columns += " version, from_state, to_state, published_version, spec_id"
        values = list(rows(projections_path(str(db)), f"SELECT {columns} FROM audit_log")[0])
        values[5] = "mallory"
        forged = Chain().row_hash("audit_log", values)  # what anyone can compute
        edit(
            projections_path(str(db)),
            "UPDATE audit_log SET actor = 'mallory', row_hash = ? WHERE position = 1",
            params=(forged,),
        )
        assert read_model_corruption(lambda: svc.history("alpha"))["position"] == 1


@pytest.mark.parametrize(
    ("statement", "position"),
    [
        ("DELETE FROM audit_log WHERE position = 28", 28),  # beta's last event
        ("DELETE FROM audit_log WHERE position = 26", 26),  # beta's first
        (f"DELETE FROM spec_versions WHERE spec_id = '{spec_id('beta')}' AND version = 2", 27),
        (f"DELETE FROM spec_versions WHERE spec_id = '{spec_id('beta')}' AND version = 1", 26),
        (f"DELETE FROM spec_summaries WHERE id = '{spec_id('beta')}'", 26),
    ],
)
def test_deleted_read_model_rows_answer_store_corrupted_and_stop_the_start(
    db: Path, running: SpecService, statement: str, position: int
) -> None:
    edit(projections_path(str(db)), statement)
    answers = []
    for read in (
        lambda: running.history("beta"),
        lambda: running.list_versions("beta"),
        lambda: running.get_published("beta"),
        lambda: running.get_version("beta", 2),
    ):
        try:
            read()
        except StoreCorrupted as error:
            answers.append(error.details)
    assert answers and all(a == {"position": position, "kind": READ_MODEL} for a in answers)
    refused = refused_start(db)
    assert refused.details["kind"] == READ_MODEL
    assert "run specsvc verify, then specsvc rebuild-projections" in refused.message
    assert main(["rebuild-projections", "--db", str(db)]) == 0
    with SpecService.open(str(db)) as svc:
        assert [e["position"] for e in svc.history("beta")["events"]] == [26, 27, 28]


def test_a_deleted_read_model_file_is_rebuilt_from_the_log(db: Path) -> None:
    with SpecService.open(str(db)) as svc:
        before = (svc.list_events(limit=100), svc.get_published("beta"), svc.list_specs())
    Path(projections_path(str(db))).unlink()
    with SpecService.open(str(db)) as svc:
        assert (svc.list_events(limit=100), svc.get_published("beta"), svc.list_specs()) == (before)
    assert verified(db)["differences"] == []


def test_read_models_from_before_rows_had_hashes_are_hashed_once_on_first_start(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = projections_path(str(db))
    edit(path, *(f"ALTER TABLE {t} DROP COLUMN row_hash" for t in ALL_READ_MODELS))
    first, second = started_twice(db, caplog, lambda svc: len(svc.history("alpha")["events"]))
    assert first == (25, ["read models: hashed the 60 rows stored before rows had hashes"])
    assert second == []
    assert rows(path, "SELECT COUNT(*) FROM audit_log WHERE row_hash IS NULL") == [(0,)]


def started_twice(
    db: Path, caplog: pytest.LogCaptureFixture, read: Any
) -> tuple[tuple[Any, list[str]], list[str]]:
    """What ``read`` answers on a first start of ``db`` with its warnings, and the
    warnings of a second start that writes; the store verifies clean in between."""
    with caplog.at_level("WARNING"), SpecService.open(str(db)) as svc:
        answer = read(svc)
    first = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert verified(db)["differences"] == []
    caplog.clear()
    with caplog.at_level("WARNING"), SpecService.open(str(db)) as svc:
        svc.update_spec("gamma", "g: 2\n", actor="bob", reason="after the upgrade")
    return (answer, first), [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


ALL_READ_MODELS = ("spec_summaries", "spec_versions", "audit_log")


def test_verify_on_the_command_line_lists_each_problem_without_a_traceback(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    swap(db, 3, 4)
    edit(db, f"DELETE FROM {EVENTS} WHERE rowid = 28")
    assert main(["verify", "--db", str(db)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    lines = captured.out.splitlines()
    assert "position 3: reordered: holds the event chained at another position" in lines
    assert "position 28: deleted: the chain has a link for a missing event" in lines
    assert lines[-1].endswith("differences")


def test_a_store_chained_with_a_key_refuses_to_open_without_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "chain.key"
    key.write_text("c2VjcmV0LWtleS1vZi1hdC1sZWFzdC0zMi1ieXRlcy1sb25n\n")
    db = tmp_path / "keyed.db"
    with SpecService.open(settings=Settings(db=str(db), chain_key_file=str(key))) as svc:
        svc.create_spec("alpha", "generic", "a: 1\n", actor="alice")
    assert main(["verify", "--db", str(db)]) == 2
    assert "this store's hash chain is keyed" in capsys.readouterr().err
    other = tmp_path / "other.key"
    other.write_text("b3RoZXIta2V5LW9mLWF0LWxlYXN0LTMyLWJ5dGVzLWxvbmc=\n")
    assert main(["verify", "--db", str(db), "--chain-key-file", str(other)]) == 2
    assert "holds another key" in capsys.readouterr().err
    assert main(["verify", "--db", str(db), "--chain-key-file", str(key)]) == 0


def test_a_store_written_before_the_chain_existed_is_chained_once_on_first_start(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    edit(db, "DROP TABLE event_chain", "DROP TABLE event_chain_config")
    (version, first), second = started_twice(db, caplog, lambda svc: svc.get_spec("alpha"))
    assert version["version"] == 25
    assert any("chained the 29 events stored before it existed" in line for line in first)
    assert not any("chained the" in line for line in second)
    assert rows(db, "SELECT max(position), count(*) FROM event_chain") == [(30, 30)]


def test_the_start_up_check_covers_the_configured_number_of_events(db: Path) -> None:
    edit(
        db,
        f"UPDATE {EVENTS} SET state = CAST(replace(CAST(state AS TEXT), 'n: 2', 'n: 200')"
        " AS BLOB) WHERE rowid = 2",
    )
    refused_start(db)
    # Only the last 20 events are checked: position 2 is before them.
    settings = Settings(db=str(db), startup_check_events=20)
    with SpecService.open(settings=settings) as svc:
        assert svc.get_spec("gamma")["version"] == 1


def test_checkpoints_are_signed_and_a_forged_one_is_refused(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    key = tmp_path / "checkpoint.pem"
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = tmp_path / "checkpoint.pub.pem"
    public.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    head = tmp_path / "head.json"
    signed = ["--checkpoint-key-file", str(key)]
    assert main(["verify", "--db", str(db), "--checkpoint", str(head), *signed]) == 0
    document = json.loads(head.read_text())
    assert document["position"] == 29 and document["signature"]["algorithm"] == "ed25519"
    capsys.readouterr()
    checked = ["--checkpoint-key-file", str(public), "--json"]
    assert main(["verify", "--db", str(db), "--against", str(head), *checked]) == 0
    assert json.loads(capsys.readouterr().out)["checkpoint"]["signature"] == "valid"
    document["position"] = 28  # moved back, as if the log had been truncated
    head.write_text(json.dumps(document))
    assert main(["verify", "--db", str(db), "--against", str(head), *checked]) == 1
    report = json.loads(capsys.readouterr().out)
    assert any(p["kind"] == "checkpoint" and "altered" in p["detail"] for p in report["problems"])
    head.write_text("{not json")
    assert main(["verify", "--db", str(db), "--against", str(head)]) == 2
    assert "is not a checkpoint" in capsys.readouterr().err


def test_chain_key_files_that_cannot_work_are_one_line_errors(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = tmp_path / "short.key"
    short.write_text("c2hvcnQ=\n")
    assert main(["verify", "--db", str(db), "--chain-key-file", str(short)]) == 2
    assert "holds 5 bytes; a chain key has at least 32" in capsys.readouterr().err
    assert main(["verify", "--db", str(db), "--chain-key-file", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ConfigurationError: SPECSVC_CHAIN_KEY_FILE: cannot read")
    assert len(err.strip().splitlines()) == 1


def written_on_postgres(settings: Settings, *, publish: bool) -> None:
    """alpha at positions 1-2 (and its publication at 3), then beta."""
    store = bootstrap.start(settings, bootstrap.Role.TOOL)
    try:
        store.service.create_spec("alpha", "generic", "a: 1\n", actor="alice")
        store.service.update_spec("alpha", "a: 2\n", actor="alice", reason="two")
        if publish:
            store.service.publish_spec("alpha", actor="bob", reason="ship")
        store.service.create_spec("beta", "generic", "b: 1\n", actor="bob")
    finally:
        store.service.close()


@pytest.mark.system
def test_on_postgres_an_edited_event_is_named_by_verify_and_stops_the_start() -> None:
    import psycopg

    from tests.support.stores import scratch_database

    with scratch_database() as url:
        settings = Settings(database_url=url)
        written_on_postgres(settings, publish=False)
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(
                "UPDATE specs_events SET state = convert_to(replace(convert_from(state,"
                " 'UTF8'), 'a: 2', 'a: 9'), 'UTF8') WHERE id = 2"
            )
        store = bootstrap.start(settings, bootstrap.Role.TOOL)
        try:
            assert (2, "edited") in kinds(verify_store(store))
            with pytest.raises(StoreCorrupted) as answered:
                store.service.get_spec("alpha")
            assert answered.value.details == {"position": 2, "kind": "edited"}
            assert store.service.get_spec("beta")["version"] == 1
        finally:
            store.service.close()
        with pytest.raises(StoreCorrupted) as refused:
            bootstrap.start(settings)
        assert refused.value.details["position"] == 2


@pytest.mark.system
def test_on_postgres_read_model_rows_changed_are_never_served_and_upgrade_in_place(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import psycopg

    from tests.support.stores import scratch_database

    with scratch_database() as url:
        settings = Settings(database_url=url)
        written_on_postgres(settings, publish=True)
        assert main(["rebuild-projections", "--database-url", url]) == 0
        with psycopg.connect(url, autocommit=True) as connection:
            for table in ALL_READ_MODELS:  # as read models from before rows had hashes
                connection.execute(f"ALTER TABLE {table} DROP COLUMN row_hash")
        with caplog.at_level("WARNING"):
            store = bootstrap.start(settings, bootstrap.Role.TOOL)
        try:
            assert "hashed the 9 rows stored before rows had hashes" in caplog.text
            assert store.service.get_version("alpha", 2)["content"] == "a: 2\n"
            with psycopg.connect(url, autocommit=True) as connection:
                connection.execute("UPDATE spec_versions SET content = 'a: 666' WHERE version = 2")
                connection.execute("DELETE FROM audit_log WHERE position = 4")
            with pytest.raises(StoreCorrupted) as answered:
                store.service.get_published("alpha")
            assert answered.value.details == {"position": 2, "kind": "read model differs"}
            assert store.service.store_status()["state"] == "corrupted"
            with pytest.raises(StoreCorrupted) as answered:
                store.service.history("beta")
            assert answered.value.details == {"position": 4, "kind": "read model differs"}
            assert (2, "read model differs") in kinds(verify_store(store))
        finally:
            store.service.close()
        with pytest.raises(StoreCorrupted) as refused:
            bootstrap.start(settings)
        assert "audit_log holds 3 rows, the log makes 4" in refused.value.message
