"""Who a request is, through a real server: forged-looking principals, one person under
two spellings, and tokens revoked without a restart."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import yaml

from tests.support.processes import Server, running

WAIT = 30.0  # a bound that stops a broken build from hanging; never a performance bound
SECRET = b"s" * 32


def entry(principal: str, token: str, *roles: str) -> dict[str, object]:
    return {
        "principal": principal,
        "sha256": hashlib.sha256(token.encode()).hexdigest(),
        "roles": list(roles),
    }


def write_tokens(path: Path, *entries: dict[str, object]) -> None:
    # Written beside and renamed, as an operator's tool would, so a reader never sees half.
    partial = path.with_suffix(".partial")
    partial.write_text(yaml.safe_dump({"tokens": list(entries)}))
    os.replace(partial, path)


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.yaml"
    write_tokens(
        path,
        entry("AP", "sst_upper", "author", "publisher"),
        entry("ap", "sst_lower", "author", "publisher"),
        entry("ops", "sst_ops", "admin"),
    )
    return path


@pytest.fixture
def server(tmp_path: Path, tokens_file: Path) -> Iterator[Server]:
    key = tmp_path / "jwt.key"
    key.write_bytes(SECRET)
    with running(
        "--db", str(tmp_path / "s.db"),
        "--rest-addr", "127.0.0.1:0",
        "--auth-tokens-file", str(tokens_file),
        "--jwt-key-file", str(key),
        "--jwt-algorithm", "HS256",
        "--four-eyes",
    ) as serving:  # fmt: skip
        yield serving


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def until(condition: object) -> bool:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("subject", ["eve\r\nINFO forged", "eve\u202egnp", "eve\u200b", "\x00"])
def test_a_jwt_whose_subject_holds_control_or_bidi_characters_is_401(
    server: Server, subject: str
) -> None:
    token = jwt.encode(
        {"sub": subject, "roles": ["admin"], "exp": int(time.time()) + 600}, SECRET, "HS256"
    )
    status, body = server.json("GET", "/v1/specs", **as_(token))
    assert status == 401 and body["error"]["details"]["error"] == "invalid_token"


def test_one_person_cannot_publish_their_own_version_under_another_spelling(
    server: Server,
) -> None:
    spec = {"name": "mine", "type": "generic", "content": "a: 1\n"}
    assert server.json("POST", "/v1/specs", spec, **as_("sst_upper"))[0] == 201
    publish = ("POST", "/v1/specs/mine/publish", {"reason": "r"})
    status, body = server.json(*publish, **as_("sst_lower"))
    assert status == 403 and body["error"]["code"] == "SeparationOfDuties"
    assert server.json(*publish, **as_("sst_ops"))[0] == 200


def test_a_revoked_token_is_refused_without_a_restart(server: Server, tokens_file: Path) -> None:
    assert server.json("GET", "/v1/specs", **as_("sst_lower"))[0] == 200
    write_tokens(tokens_file, entry("ops", "sst_ops", "admin"))
    assert until(lambda: server.json("GET", "/v1/specs", **as_("sst_lower"))[0] == 401)
    assert server.json("GET", "/v1/specs", **as_("sst_ops"))[0] == 200


def test_a_malformed_tokens_file_keeps_the_tokens_in_force_and_says_why(
    server: Server, tokens_file: Path
) -> None:
    tokens_file.write_text("tokens: [{principal: broken}]\n")

    def refused_and_still_answering() -> bool:
        answered = server.json("GET", "/v1/specs", **as_("sst_lower"))[0] == 200
        return answered and any("tokens file not reloaded" in line for line in server.log)

    assert until(refused_and_still_answering)


def test_sighup_reads_the_tokens_file_at_once(server: Server, tokens_file: Path) -> None:
    write_tokens(tokens_file, entry("ops", "sst_ops", "admin"), entry("new", "sst_new", "reader"))
    server.process.send_signal(signal.SIGHUP)
    assert until(lambda: server.json("GET", "/v1/specs", **as_("sst_new"))[0] == 200)
    assert server.json("GET", "/v1/specs", **as_("sst_upper"))[0] == 401
