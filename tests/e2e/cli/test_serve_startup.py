"""``specsvc serve`` refuses bad settings in one line, and stops on signals it inherited ignored."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import running


def serve(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "specsvc.cli", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SPECSVC_LOG_FORMAT": "json", **extra_env},
        check=False,
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    yield holder.getsockname()[1]
    holder.close()


def assert_one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("ConfigurationError")]
    for word in words:
        assert word in line, line


def test_a_rest_port_in_use(tmp_path: Path, taken_port: int) -> None:
    done = serve("--db", str(tmp_path / "s.db"), "--rest-addr", f"127.0.0.1:{taken_port}")
    assert_one_line_error(done, "--rest-addr", f"127.0.0.1:{taken_port}", "in use")


def test_a_grpc_port_in_use(tmp_path: Path, taken_port: int) -> None:
    done = serve(
        "--db", str(tmp_path / "s.db"),
        "--rest-addr", "127.0.0.1:0",
        "--grpc-addr", f"127.0.0.1:{taken_port}",
    )  # fmt: skip
    assert_one_line_error(done, "--grpc-addr", f"127.0.0.1:{taken_port}")


def test_a_database_in_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    db = tmp_path / "missing" / "specs.db"
    done = serve("--db", str(db), "--rest-addr", "127.0.0.1:0")
    assert_one_line_error(done, "--db", str(tmp_path / "missing"), "does not exist")
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("addr", ["localhost", "127.0.0.1:http", "127.0.0.1:99999"])
def test_an_address_without_a_port(tmp_path: Path, addr: str) -> None:
    done = serve("--db", str(tmp_path / "s.db"), "--rest-addr", addr)
    assert_one_line_error(done, "--rest-addr", repr(addr), "HOST:PORT", "127.0.0.1:8080")


@pytest.mark.parametrize("flag", ["--auth-tokens-file", "--jwt-key-file"])
def test_a_credentials_file_that_does_not_exist(tmp_path: Path, flag: str) -> None:
    missing = str(tmp_path / "nope.yaml")
    done = serve("--db", str(tmp_path / "s.db"), "--rest-addr", "127.0.0.1:0", flag, missing)
    assert_one_line_error(done, flag, missing, "No such file")


def test_a_malformed_tokens_file(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("tokens: [{principal: a}]\n")
    done = serve("--db", str(tmp_path / "s.db"), "--auth-tokens-file", str(tokens))
    assert_one_line_error(done, str(tokens), "tokens[0]")


def test_a_variable_that_does_not_parse(tmp_path: Path) -> None:
    done = serve("--db", str(tmp_path / "s.db"), SPECSVC_THREADS="many")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "SPECSVC_THREADS='many' is not a valid int" in done.stderr


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_server_even_when_inherited_as_ignored(
    tmp_path: Path, signum: int
) -> None:
    """A shell's ``&`` (and many CI runners) start children with SIGINT ignored."""
    db = str(tmp_path / "s.db")
    args = ("--db", db, "--rest-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0")
    with running(*args, preexec_fn=ignore_sigint) as server:
        assert server.json("GET", "/healthz")[0] == 200
        assert server.stop(signum) == 0
    assert any('"stopped"' in line for line in server.log)
