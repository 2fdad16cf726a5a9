"""The Dockerfile, checked statically (no Docker engine here) and its settings run for real."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath

import jwt

from specsvc.config import Settings
from tests.support import ROOT
from tests.support.processes import running

README = (ROOT / "README.md").read_text()


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def env() -> dict[str, str]:
    values: dict[str, str] = {}
    for keyword, rest in instructions():
        if keyword == "ENV":
            values.update(dict(pair.split("=", 1) for pair in shlex.split(rest)))
    return values


def one(keyword: str) -> str:
    (value,) = [rest for k, rest in instructions() if k == keyword]
    return value


def test_runs_as_a_non_root_user_it_creates() -> None:
    user = one("USER")
    assert user not in ("root", "0")
    assert any(k == "RUN" and "useradd" in r and user in r for k, r in instructions())


def test_the_database_lives_on_a_volume_the_user_owns() -> None:
    data = str(PurePosixPath(env()["SPECSVC_DB"]).parent)
    assert data in json.loads(one("VOLUME"))
    assert any(k == "RUN" and f"chown {one('USER')}" in r and data in r for k, r in instructions())


def test_healthcheck_probes_healthz_on_the_rest_port() -> None:
    port = env()["SPECSVC_REST_ADDR"].rsplit(":", 1)[1]
    check = one("HEALTHCHECK")
    assert f"127.0.0.1:{port}/healthz" in check
    assert (
        port in one("EXPOSE").split()
        and env()["SPECSVC_GRPC_ADDR"].rsplit(":", 1)[1] in one("EXPOSE").split()
    )


def test_install_and_start_are_the_readme_commands() -> None:
    readme_serve = re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)[0]
    assert "pip install -q ." in readme_serve and "specsvc serve" in readme_serve
    runs = " ".join(r for k, r in instructions() if k == "RUN")
    assert re.search(r"pip install -q (--no-cache-dir )?\.(\s|$)", runs)
    assert json.loads(one("CMD")) == ["specsvc", "serve"]


def test_every_package_is_copied_and_every_variable_is_a_setting() -> None:
    copied = " ".join(r for k, r in instructions() if k == "COPY")
    for package in ("specsvc", "rest_api", "grpc_api"):
        assert f"{package} ./{package}" in copied
    fields = {f"SPECSVC_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    assert {k for k in env() if k.startswith("SPECSVC_")} <= fields


def image_settings(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The image's variables, with the paths a container would mount and free ports."""
    return {
        **{k: v for k, v in env().items() if k.startswith("SPECSVC_")},
        "SPECSVC_DB": str(tmp_path / "specs.db"),
        "SPECSVC_REST_ADDR": "0.0.0.0:0",
        "SPECSVC_GRPC_ADDR": "0.0.0.0:0",
        **extra,
    }


def test_the_image_with_a_tokens_file_passes_its_healthcheck(tmp_path: Path) -> None:
    token = "sst_container-token"
    tokens = tmp_path / "tokens.yaml"
    digest = hashlib.sha256(token.encode()).hexdigest()
    tokens.write_text(f"tokens:\n  - {{principal: ops, sha256: {digest}, roles: [admin]}}\n")
    settings = image_settings(tmp_path, SPECSVC_AUTH_TOKENS_FILE=str(tokens))
    with running(env=settings) as server:
        port = server.url.rsplit(":", 1)[1]
        probe = json.loads(one("HEALTHCHECK").split("CMD", 1)[1])
        probe = [part.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for part in probe]
        probe[0] = sys.executable
        assert subprocess.run(probe, timeout=30, check=False).returncode == 0
        assert server.request("GET", "/v1/specs")[0] == 401
        headers = {"Authorization": f"Bearer {token}"}
        assert server.request("GET", "/v1/specs", headers=headers)[0] == 200
        assert server.stop() == 0


def test_the_image_with_only_a_jwt_key_starts(tmp_path: Path) -> None:
    secret = secrets.token_hex(32).encode()  # a key file ends where its text ends
    key = tmp_path / "jwt.key"
    key.write_bytes(secret)
    settings = image_settings(
        tmp_path, SPECSVC_JWT_KEY_FILE=str(key), SPECSVC_JWT_ALGORITHM="HS256"
    )
    assert "SPECSVC_AUTH_TOKENS_FILE" not in settings
    claims = {"sub": "ops", "roles": ["reader"], "exp": int(time.time()) + 600}
    token = jwt.encode(claims, secret, algorithm="HS256")
    with running(env=settings) as server:
        assert server.request("GET", "/v1/specs")[0] == 401
        headers = {"Authorization": f"Bearer {token}"}
        assert server.request("GET", "/v1/specs", headers=headers)[0] == 200
        assert server.stop() == 0


def test_the_image_without_credentials_refuses_to_start_and_says_why(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "specsvc.cli", "serve"],
        env={**os.environ, **image_settings(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "refusing to serve anonymous" in done.stderr and "--auth-tokens-file" in done.stderr
