"""``specsvc serve`` as a real process over real HTTP: start, serve, stop, survive SIGKILL."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.processes import running, start

RULES = "rule: {field: email, matches: '@example\\.com$'}\n"


def test_serves_the_api_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    db = str(tmp_path / "specs.db")
    with running("--db", db, "--rest-addr", "127.0.0.1:0") as server:
        assert any("anonymous" in line for line in server.log)
        status, spec = server.json(
            "POST", "/v1/specs", {"name": "signup", "type": "regex-rules", "content": RULES}
        )
        assert status == 201 and spec["created_by"] == "anonymous"
        status, _ = server.json("POST", "/v1/specs/signup/publish", {"reason": "go"})
        assert status == 200
        status, headers, raw = server.request(
            "GET", "/v1/specs/signup/published", headers={"Accept": "application/yaml"}
        )
        assert (status, headers["Content-Type"], raw.decode()) == (200, "application/yaml", RULES)
        status, result = server.json(
            "POST", "/v1/specs/signup/evaluate", {"input": {"email": "a@example.com"}}
        )
        assert (status, result["result"]) == (200, True)
        assert server.json("GET", "/readyz")[0] == 200
        assert server.stop(signal.SIGTERM) == 0
        assert any("stopped" in line for line in server.log)
    with running("--db", db, "--rest-addr", "127.0.0.1:0") as again:
        assert again.json("GET", "/v1/specs/signup")[1]["state"] == "published"
        assert again.stop(signal.SIGINT) == 0


def test_no_acknowledged_write_is_lost_when_killed(tmp_path: Path) -> None:
    db = str(tmp_path / "specs.db")
    with running("--db", db, "--rest-addr", "127.0.0.1:0") as server:
        acknowledged = []
        for n in range(30):
            status, _ = server.json(
                "POST", "/v1/specs", {"name": f"s{n}", "type": "generic", "content": f"n: {n}\n"}
            )
            assert status == 201
            acknowledged.append(f"s{n}")
        server.stop(signal.SIGKILL)
    with running("--db", db, "--rest-addr", "127.0.0.1:0") as server:
        status, listed = server.json("GET", "/v1/specs?limit=500")
        assert status == 200
        assert [s["name"] for s in listed["specs"]] == sorted(acknowledged)


def test_tokens_are_required_when_configured(tmp_path: Path) -> None:
    token = "sst_end-to-end-token"
    digest = hashlib.sha256(token.encode()).hexdigest()
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(f"tokens:\n  - {{principal: carol, sha256: {digest}, roles: [admin]}}\n")
    args = ("--db", str(tmp_path / "s.db"), "--rest-addr", "127.0.0.1:0")
    with running(*args, "--auth-tokens-file", str(tokens)) as server:
        status, headers, _ = server.request("GET", "/v1/specs")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        auth = {"Authorization": f"Bearer {token}"}
        status, spec = server.json(
            "POST", "/v1/specs", {"name": "x", "type": "generic", "content": "a: 1\n"}, **auth
        )
        assert (status, spec["created_by"]) == (201, "carol")
        assert server.json("GET", "/healthz")[0] == 200


def test_refuses_anonymous_mode_on_a_non_loopback_address(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "specsvc.cli",
            "serve",
            "--db",
            str(tmp_path / "s.db"),
            "--rest-addr",
            "0.0.0.0:0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "anonymous" in done.stderr


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "env.db"
    server = start(env={"SPECSVC_DB": str(db), "SPECSVC_REST_ADDR": "127.0.0.1:0"})
    try:
        assert server.json("GET", "/healthz")[0] == 200
    finally:
        assert server.stop() == 0
    assert db.exists()
