"""Encryption at rest (docs/behaviour.md): with a key file, what the store keeps of spec
content is ciphertext, everything still reads and verifies, and a key that does not fit
the store is a one-line ConfigurationError when it opens."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Cipher, StoredEvent

from specsvc import bootstrap
from specsvc.config import Settings
from specsvc.errors import ConfigurationError, StoreCorrupted
from specsvc.operator import verify_store
from specsvc.persistence.sealing import (
    PLAIN,
    CipherKeyError,
    ContentSealer,
    check_key,
    cipher_env,
    cipher_of,
    read_key_file,
)
from specsvc.persistence.sqlite.files import projections_path
from tests.support.stores import BACKENDS, scratch_database, started_store

SECRET = "launch-code-7f3a9c"
YAML = f"rule: {{field: email, matches: '@example\\.com$'}}\nnote: {SECRET}\n"
VARIABLE = "SPECSVC_CIPHER_KEY_FILE"


def key_file(folder: Path, name: str = "cipher.key") -> str:
    """A new random 32-byte key, as ``head -c 32 /dev/urandom | base64`` writes it."""
    path = folder / name
    path.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    return str(path)


def fill(service: Any) -> None:
    """Content in every place the store keeps it: events, a snapshot, versions, the
    published content, and an answer kept under an idempotency key."""
    service.create_spec("rules", "generic", YAML, actor="alice", idempotency_key="k-1")
    for n in range(2, 12):  # a snapshot at the 10th event
        service.update_spec("rules", YAML + f"# {n}\n", actor="alice", reason=f"v{n}")
    service.publish_spec("rules", actor="bob", reason="reviewed")
    service.catch_up()


def cipher(path: str) -> Cipher:
    made = cipher_of(cipher_env(path))
    assert made is not None
    return made


# --- the key file and the sealing, without a store ---------------------------------------


def test_a_key_file_holds_a_base64_key_of_16_24_or_32_bytes(tmp_path: Path) -> None:
    for size in (16, 24, 32):
        path = tmp_path / f"{size}.key"
        path.write_text(base64.b64encode(b"k" * size).decode() + "\n")
        assert base64.b64decode(read_key_file(str(path))) == b"k" * size


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, ["No such file"]),
        (b"", ["not a base64-encoded"]),
        (b"not base64!", ["not a base64-encoded"]),
        (base64.b64encode(b"k" * 20), ["16-, 24- or 32-byte", "head -c 32 /dev/urandom"]),
    ],
)
def test_a_key_file_that_cannot_be_used_is_one_line_naming_the_variable(
    tmp_path: Path, content: bytes | None, words: list[str]
) -> None:
    path = tmp_path / "cipher.key"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CipherKeyError) as raised:
        read_key_file(str(path))
    message = str(raised.value)
    assert "\n" not in message and VARIABLE in message and str(path) in message
    for word in words:
        assert word in message


def test_sealed_text_is_base64_ciphertext_that_opens_only_with_its_key(tmp_path: Path) -> None:
    sealer = ContentSealer(cipher(key_file(tmp_path)))
    sealed = sealer.seal(YAML)
    assert SECRET not in sealed and sealed != sealer.seal(YAML)  # a fresh nonce each time
    assert base64.b64decode(sealed, validate=True)
    assert sealer.open(sealed) == YAML
    other = ContentSealer(cipher(key_file(tmp_path, "other.key")))
    with pytest.raises(ValueError, match=VARIABLE):
        other.open(sealed)
    assert PLAIN.seal(YAML) is YAML and PLAIN.open(YAML) is YAML


def test_check_key_tells_a_wrong_key_from_a_missing_one_and_a_plaintext_store(
    tmp_path: Path,
) -> None:
    right, wrong = cipher(key_file(tmp_path)), cipher(key_file(tmp_path, "other.key"))
    sealed = StoredEvent("id", 1, "topic", right.encrypt(b'{"a":1}'))
    plain = StoredEvent("id", 1, "topic", b'{"a":1}')
    check_key(None, right, "k")  # an empty store takes any key
    check_key(None, None, None)
    check_key(sealed, right, "k")
    check_key(plain, None, None)
    for newest, used, words in (
        (sealed, wrong, ["wrong key for the store", "k:"]),
        (sealed, None, ["the store is encrypted"]),
        (plain, right, ["unencrypted events", "unset it"]),
    ):
        with pytest.raises(CipherKeyError) as raised:
            check_key(newest, used, "k")
        assert VARIABLE in str(raised.value) and "\n" not in str(raised.value)
        for word in words:
            assert word in str(raised.value)


# --- a store, on every backend ---------------------------------------------------------------


@pytest.mark.parametrize("kind", BACKENDS)
def test_an_encrypted_store_reads_verifies_and_answers_retries_as_a_plain_one(
    kind: str, tmp_path: Path
) -> None:
    with started_store(kind, tmp_path, cipher_key_file=key_file(tmp_path)) as store:
        service = store.service
        fill(service)
        assert service.get_published("rules")["content"] == YAML + "# 11\n"
        assert service.get_version("rules", 1)["content"] == YAML
        assert service.get_spec("rules")["content"] == YAML + "# 11\n"
        again = service.create_spec(
            "rules", "generic", YAML, actor="alice", idempotency_key="k-1"
        )
        assert again["content"] == YAML and again["version"] == 1  # the kept answer
        assert verify_store(store)["differences"] == []
        stored = stored_texts(store)
        assert stored, "the store keeps events, content and answers"
        for where, text in stored.items():
            assert SECRET not in text and "matches" not in text, where


def test_encrypted_content_changed_on_disk_answers_store_corrupted(tmp_path: Path) -> None:
    with started_store("sqlite-file", tmp_path, cipher_key_file=key_file(tmp_path)) as store:
        fill(store.service)
        assert store.service.catch_up()  # the rows to change are written
        with closing(sqlite3.connect(projections_path(str(tmp_path / "specs.db")))) as db:
            db.execute("UPDATE spec_versions SET content = 'bm90IHNlYWxlZA==' WHERE version = 1")
            db.commit()
        with pytest.raises(StoreCorrupted) as answered:
            store.service.get_version("rules", 1)
        assert answered.value.details["kind"] == "read model differs"
        assert store.service.get_version("rules", 2)["content"] == YAML + "# 2\n"


def test_without_a_key_the_store_keeps_content_as_plain_text(tmp_path: Path) -> None:
    with started_store("sqlite-file", tmp_path) as store:
        fill(store.service)
        stored = stored_texts(store)
        for where in ("content", "answers", "states"):
            assert SECRET in stored[where], where
        assert all(
            isinstance(json.loads(s.state), dict)
            for s in store.application.recorder.select_notifications(0, 100)
        )


def stored_texts(store: bootstrap.Components) -> dict[str, str]:
    """What the store keeps, as stored: event states, snapshot states, read-model content
    and kept answers, each joined into one text."""
    assert store.service.catch_up()  # every write in the read models
    app = store.application
    states = [n.state for n in app.recorder.select_notifications(0, 1000)]
    assert app.snapshots is not None
    spec_id = store.service.get_spec("rules")["id"]
    from uuid import UUID

    snapshots = [s.state for s in app.snapshots.recorder.select_events(UUID(spec_id))]
    assert snapshots, "a snapshot was taken"
    dump = store.projections.read_model.stored_tables()  # type: ignore[attr-defined]
    versions = dump["spec_versions"]
    at = versions.columns.index("content")
    return {
        "states": " ".join(s.decode("utf-8", "replace") for s in states),
        "snapshots": " ".join(s.decode("utf-8", "replace") for s in snapshots),
        "content": " ".join(row[at] for row in versions.rows),
        "answers": " ".join(a.answer for a in app.timeline.remembered()),
    }


def test_a_wrong_key_a_missing_key_or_a_key_for_a_plain_store_refuse_to_open(
    tmp_path: Path,
) -> None:
    right, wrong = key_file(tmp_path), key_file(tmp_path, "wrong.key")
    for folder, key in (("secret", right), ("plain", None)):
        (tmp_path / folder).mkdir()
        with started_store("sqlite-file", tmp_path / folder, cipher_key_file=key) as store:
            fill(store.service)
    encrypted, plain = str(tmp_path / "secret/specs.db"), str(tmp_path / "plain/specs.db")
    for db, key, words in (
        (encrypted, wrong, ["wrong key", wrong]),
        (encrypted, None, ["the store is encrypted"]),
        (plain, right, ["unencrypted events", right]),
    ):
        for role in bootstrap.Role:
            with pytest.raises(ConfigurationError) as raised:
                bootstrap.open_existing(Settings(db=db, cipher_key_file=key), role)
            message = str(raised.value)
            assert VARIABLE in message and "\n" not in message
            for word in words:
                assert word in message


@pytest.mark.system
def test_on_postgres_no_row_holds_the_content_and_the_worker_refuses_a_wrong_key(
    tmp_path: Path,
) -> None:
    import psycopg

    right, wrong = key_file(tmp_path), key_file(tmp_path, "wrong.key")
    with scratch_database() as url:
        settings = Settings(database_url=url, cipher_key_file=right)
        from tests.support.stores import running_worker

        with running_worker(settings):
            store = bootstrap.start(settings)
            try:
                fill(store.service)
                assert store.service.get_published("rules")["content"] == YAML + "# 11\n"
                assert verify_store(store)["differences"] == []
            finally:
                store.service.close()
        with psycopg.connect(url) as connection:
            tables = [
                row[0]
                for row in connection.execute(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = 'public'"
                )
            ]
            assert {"specs_events", "specs_snapshots", "spec_versions"} <= set(tables)
            for table in tables:
                for row in connection.execute(f"SELECT * FROM {table}"):
                    text = " ".join(
                        bytes(v).decode("utf-8", "replace") if isinstance(v, bytes | memoryview)
                        else str(v)
                        for v in row
                    )
                    assert SECRET not in text and "matches" not in text, table
        for key, words in ((wrong, ["wrong key"]), (None, ["the store is encrypted"])):
            refused = Settings(database_url=url, cipher_key_file=key)
            with pytest.raises(ConfigurationError, match=VARIABLE) as raised:
                bootstrap.start(refused)
            assert all(word in str(raised.value) for word in words)
            with pytest.raises(ConfigurationError, match=VARIABLE):
                bootstrap.start_worker(refused)
