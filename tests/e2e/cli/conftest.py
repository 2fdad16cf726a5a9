"""The command line against real ``specsvc serve`` processes and real store files.

``server`` is one real server shared by a module; ``cli`` runs ``specsvc --url SERVER ...``
in this process and returns (exit code, stdout, stderr).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator

import pytest

from specsvc.cli import main
from tests.support.processes import CLI, Server, running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = str(tmp_path_factory.mktemp("client") / "specs.db")
    with running("--db", db, "--rest-addr", "127.0.0.1:0") as serving:
        yield serving


@pytest.fixture
def cli(
    server: Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[CLI]:
    """``specsvc --url SERVER ARGV...`` in this process: (exit code, stdout, stderr)."""

    def run(*argv: str, stdin: bytes | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        code = main(["--url", server.url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    yield run
