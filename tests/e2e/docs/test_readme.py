"""The README's commands and examples are executed, so they can never go stale."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support import ROOT

README = (ROOT / "README.md").read_text()
LISTENING = "REST API listening on http://127.0.0.1:8080"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_readme_opens_with_the_serve_and_test_commands() -> None:
    assert README.index("```bash") < README.index("\n## ")
    serve, tests = (block.strip() for block in code_blocks("bash")[:2])
    assert "pip install" in serve and "specsvc serve" in serve
    assert tests.endswith("pytest")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci, "CI must run the README's test command verbatim"


def fresh_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "checkout"
    ignored = shutil.ignore_patterns(
        ".git", ".venv", "*.egg-info", "__pycache__", "*.db*", "build", ".*_cache"
    )
    shutil.copytree(ROOT, copy, ignore=ignored)
    return copy


def wait_for_listener(process: subprocess.Popen[str], log: list[str]) -> None:
    assert process.stderr is not None
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise AssertionError("serve command ended:\n" + "\n".join(log[-40:]))
        log.append(line.rstrip())
        if LISTENING in line:
            return
    raise AssertionError("serve command did not listen in time")


def run_block(block: str, cwd: Path) -> str:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"README block failed:\n{block}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_readme_runs_as_written_on_a_fresh_copy(tmp_path: Path) -> None:
    copy = fresh_copy(tmp_path)
    serve, _, *tour = (block.strip() for block in code_blocks("bash"))
    process = subprocess.Popen(
        serve,
        shell=True,
        cwd=copy,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    log: list[str] = []
    try:
        wait_for_listener(process, log)
        with urllib.request.urlopen("http://127.0.0.1:8080/healthz", timeout=10) as response:
            assert response.status == 200
        outputs = [run_block(block, copy) for block in tour]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        remaining = process.communicate(timeout=60)[1]
    assert "stopped" in remaining
    curl, grpc, cli, _maintenance = outputs
    assert curl.endswith('rule: {field: email, matches: "@example\\\\.com$"}\n')
    assert "specsvc.v1.SpecService" in grpc and '"version": "1"' in grpc
    assert "+    - {not: {field: country" in cli and "signup-rules" in cli
    assert (copy / "backup" / "specs.db").exists() and (copy / "events.jsonl").exists()

    example = code_blocks("python")[0]
    run = subprocess.run(
        [str(copy / ".venv" / "bin" / "python"), "-c", example],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines() == ["1", "True"]


def test_the_configuration_table_is_generated_from_the_settings() -> None:
    from specsvc.cli.options import settings_table

    assert settings_table() in README


def test_serve_help_names_every_variable_and_default() -> None:
    from specsvc.config import Settings, variable

    done = subprocess.run(
        [sys.executable, "-m", "specsvc.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    shown = " ".join(done.stdout.split())  # a long help line wraps anywhere
    for option in Settings.options("serve"):
        assert f"env {variable(option)}; default " in shown
