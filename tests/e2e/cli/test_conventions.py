"""One convention for every command: exit codes, --json, usage errors, --version, completion."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from specsvc import SpecService, __version__
from specsvc.cli import main
from tests.support.processes import CLI, Server, running

RULES = "rule: {field: email, matches: '@example\\.com$'}\n"


def write(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content)
    return str(path)


def test_validating_a_file_that_does_not_exist_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, "good.yaml", "a: 1\n")
    missing = str(tmp_path / "nosuchfile.yaml")
    assert main(["validate", good, missing, "--type", "generic"]) == 2
    assert capsys.readouterr().err.startswith(f"UsageError: cannot read {missing}: ")


def test_an_unknown_type_is_type_not_found_for_validate_and_create(
    tmp_path: Path, cli: CLI, server: Server
) -> None:
    spec = write(tmp_path, "a.yaml", "a: 1\n")
    assert main(["validate", spec, "--type", "nope"]) == 4
    code, out, err = cli("create", "typo-type", "--type", "nope", "--file", spec)
    assert (code, out) == (4, "")
    assert err.startswith("TypeNotFound: ")
    assert server.json("GET", "/v1/specs/typo-type")[0] == 404


@pytest.mark.parametrize("url", ["localhost:8080", "127.0.0.1:8080", "ftp://example.org"])
def test_a_url_without_an_http_scheme_is_a_usage_error_with_a_hint(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--url", url, "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"UsageError: --url {url!r} is not an http(s) URL")
    assert "e.g. http://" in err and len(err.splitlines()) == 1


def test_a_url_that_points_at_the_grpc_port_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "specs.db")
    with running("--db", db, "--rest-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0") as s:
        line = next(line for line in s.log if "gRPC API listening" in line)
        grpc_port = re.search(r"listening on 127\.0\.0\.1:(\d+)", line).group(1)  # type: ignore[union-attr]
        assert main(["--url", f"http://127.0.0.1:{grpc_port}", "list"]) == 2
    err = capsys.readouterr().err
    assert "is not the Spec Service REST API" in err and "gRPC port" in err
    assert len(err.splitlines()) == 1 and "\\x00" not in err


def test_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "specsvc.cli", "--version"], capture_output=True, text=True
    )
    assert (done.returncode, done.stdout) == (0, f"specsvc {__version__}\n")


COMMANDS_WITH_JSON = [
    ["list"],
    ["get", "json-everywhere"],
    ["versions", "json-everywhere"],
    ["history", "json-everywhere"],
    ["diff", "json-everywhere", "1", "1"],
    ["status", "--db", "STORE"],
    ["verify", "--db", "STORE"],
    ["validate", "SPEC", "--type", "generic"],
    ["token", "new", "--name", "x", "--role", "reader"],
]


@pytest.fixture(scope="module")
def a_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = str(tmp_path_factory.mktemp("store") / "specs.db")
    with SpecService.open(db) as svc:
        svc.create_spec("json-everywhere", "generic", "a: 1\n", actor="alice")
    return db


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("command", COMMANDS_WITH_JSON, ids=lambda c: c[0])
def test_json_is_accepted_before_and_after_every_command(
    command: list[str], where: str, cli: CLI, tmp_path: Path, a_store: str
) -> None:
    if command[0] not in ("status", "verify", "validate", "token"):
        content = write(tmp_path, "a", "a: 1\n")
        cli("create", "json-everywhere", "--type", "generic", "--file", content)
    spec = write(tmp_path, "spec.yaml", "a: 1\n")
    argv = [{"STORE": a_store, "SPEC": spec}.get(part, part) for part in command]
    argv = ["--json", *argv] if where == "before" else [*argv, "--json"]
    code, out, err = cli(*argv)
    assert code == 0, err
    assert isinstance(json.loads(out), dict)


@pytest.mark.parametrize(
    "argv",
    [
        ["get", "no-such-spec"],
        ["status", "--db", "/nonexistent/specs.db"],
        ["validate", "/nonexistent.yaml", "--type", "generic"],
        ["create"],
    ],
    ids=["not-found", "no-store", "no-file", "usage"],
)
def test_under_json_an_error_is_one_json_object_on_stderr(argv: list[str], cli: CLI) -> None:
    code, out, err = cli("--json", *argv)
    assert code in (2, 4) and out == ""
    error = json.loads(err)["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] in ("SpecNotFound", "StoreNotFound", "UsageError")


def test_a_no_op_update_says_unchanged(cli: CLI, tmp_path: Path) -> None:
    content = write(tmp_path, "rules.yaml", RULES)
    assert cli("create", "same-again", "--type", "regex-rules", "--file", content)[0] == 0
    code, out, _ = cli("update", "same-again", "--file", content, "--reason", "again")
    assert code == 0 and out.startswith("unchanged same-again: draft, version 1")
    code, out, _ = cli("update", "same-again", "--file", content, "--reason", "again", "--json")
    assert json.loads(out)["changed"] is False
    changed = write(tmp_path, "more.yaml", RULES + "# more\n")
    code, out, _ = cli("update", "same-again", "--file", changed, "--reason", "more", "--json")
    assert json.loads(out)["changed"] is True and json.loads(out)["version"] == 2


def test_the_name_of_a_deleted_spec_is_reserved_and_the_message_says_so(
    cli: CLI, tmp_path: Path
) -> None:
    content = write(tmp_path, "a.yaml", "a: 1\n")
    assert cli("create", "was-here", "--type", "generic", "--file", content)[0] == 0
    assert cli("delete", "was-here", "--reason", "gone")[0] == 0
    code, _, err = cli("create", "was-here", "--type", "generic", "--file", content)
    assert code == 5
    assert "belongs to a deleted spec" in err and "deleted names stay reserved" in err


def test_backup_refuses_an_existing_destination_naming_force_then_force_replaces_it(
    a_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = str(tmp_path / "backup" / "specs.db")
    assert main(["backup", dest, "--db", a_store]) == 0
    assert main(["backup", dest, "--db", a_store]) == 5
    err = capsys.readouterr().err
    assert err == (
        f"DestinationExists: {dest} exists; choose another name, or add --force to replace it\n"
    )
    assert main(["backup", dest, "--db", a_store, "--force"]) == 0
    with SpecService.open(dest) as copy:
        assert copy.get_spec("json-everywhere")["version"] == 1
    assert not [p for p in (tmp_path / "backup").iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts_for_bash_and_zsh(shell: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "specsvc.cli", "completion", shell], capture_output=True, text=True
    )
    assert done.returncode == 0 and "specsvc" in done.stdout
    assert ("complete " in done.stdout) if shell == "bash" else ("compdef" in done.stdout)


def test_completion_offers_commands_and_options(tmp_path: Path) -> None:
    def complete(line: str) -> set[str]:
        answer = tmp_path / "answer"
        environment = {
            **os.environ,
            "_ARGCOMPLETE": "1",
            "_ARGCOMPLETE_SHELL": "bash",
            "COMP_LINE": line,
            "COMP_POINT": str(len(line)),
            "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
        }
        subprocess.run(
            [sys.executable, "-m", "specsvc.cli"], env=environment, capture_output=True, timeout=60
        )
        return set(answer.read_text().replace("\x0b", " ").split())

    assert {"publish", "projection"} & complete("specsvc pub") == {"publish"}
    assert "--reason" in complete("specsvc publish x --re")


def test_validate_takes_a_types_dir(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support import ROOT

    sample = str(ROOT / "examples" / "specs" / "feature-flag.yaml")
    types = str(ROOT / "examples" / "custom-types")
    assert main(["validate", sample, "--type", "feature-flag"]) == 4
    assert main(["validate", sample, "--type", "feature-flag", "--types-dir", types]) == 0
    assert "valid feature-flag spec" in capsys.readouterr().out
