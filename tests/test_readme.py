"""The README's commands and Python example are executed, so they can never go stale."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_readme_opens_with_the_serve_and_test_commands() -> None:
    assert README.index("```bash") < README.index("\n## ")
    serve, tests = (block.strip() for block in code_blocks("bash")[:2])
    assert "pip install" in serve and "specsvc" in serve
    assert tests.endswith("pytest")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci, "CI must run the README's test command verbatim"


def test_first_command_installs_and_starts_on_a_fresh_copy(tmp_path: Path) -> None:
    copy = tmp_path / "checkout"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "*.egg-info", "__pycache__", "*.db*", "build"
        ),
    )
    serve = code_blocks("bash")[0].strip()
    done = subprocess.run(
        serve, shell=True, cwd=copy, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["storage"]["events"]["journal_mode"] == "wal"
    assert report["projections"]["caught_up"] is True
    assert (copy / "specs.db").exists()

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
