"""The ``specsvc`` command line: ``validate`` (no server) and ``status``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specsvc import SpecService
from specsvc.cli import main
from tests.support import ROOT


def test_validate_accepts_a_valid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "rules.yaml"
    spec.write_text("rule: {field: email, matches: '@example\\.com$'}\n")
    assert main(["validate", str(spec), "--type", "regex-rules"]) == 0
    assert "valid regex-rules spec" in capsys.readouterr().out


def test_validate_prints_each_problem_with_line_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "wf.yaml"
    spec.write_text(
        "steps:\n"
        "  - id: review\n"
        "    approvers: {roles: [lead]}\n"
        "    min_approvals: 0\n"
        "    on_approve: nowhere\n"
        "    on_reject: rejected\n"
    )
    assert main(["validate", str(spec), "--type", "approval-workflow"]) == 3
    out = capsys.readouterr().out
    assert f"{spec}:4: /steps/0/min_approvals:" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"a: &x 1\nb: *x\n", "anchors"), (b"\xff\xfe", "UTF"), (b"a: 1\na: 2\n", "duplicate")],
)
def test_validate_reports_unreadable_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_bytes(content)
    assert main(["validate", str(spec), "--type", "generic"]) == 3
    assert message in capsys.readouterr().err


def test_validate_unknown_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "a.yaml"
    spec.write_text("a: 1\n")
    assert main(["validate", str(spec), "--type", "nope"]) == 4
    assert "TypeNotFound" in capsys.readouterr().err


def test_status_reports_a_durable_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "s.db")
    SpecService.open(db).close()
    assert main(["status", "--db", db, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["storage"]["events"]["synchronous"] == 2
    assert report["storage"]["projections"]["synchronous"] == 1
    assert report["specs"] == 0
    assert main(["status", "--db", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"events: {db} (wal, synchronous=2)"
    assert "projections: caught up" in lines and "specs: 0" in lines


def test_status_refuses_a_store_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "typo.db"
    assert main(["status", "--db", str(typo)]) == 4
    assert capsys.readouterr().err == f"StoreNotFound: no event store at {typo}\n"
    assert list(tmp_path.iterdir()) == []


def test_validate_checks_every_file_like_a_pre_commit_hook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("a: 1\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1\n")
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n")
    assert main(["validate", str(good), str(broken), str(listed), "--type", "generic"]) == 3
    captured = capsys.readouterr()
    assert f"{good}: valid generic spec" in captured.out
    assert f"{broken}: ValidationError" in captured.err
    assert str(listed) in captured.err
    assert main(["validate", str(good), str(good), "--type", "generic"]) == 0


def test_the_pre_commit_hook_runs_the_validate_command() -> None:
    import yaml

    root = ROOT
    (hook,) = yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text())
    assert hook["entry"] == "specsvc validate" and hook["language"] == "python"
    assert hook["args"][0] == "--type"


@pytest.mark.parametrize("command", ["status", "verify", "export", "rebuild-projections"])
def test_a_database_that_cannot_be_reached_is_one_line_and_exit_7(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--database-url", "postgresql://postgres@127.0.0.1:1/nowhere"]) == 7
    err = capsys.readouterr().err
    assert err.startswith("Unavailable: the store cannot be used:") and "Traceback" not in err
    assert len(err.splitlines()) == 1
