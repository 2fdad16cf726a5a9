"""``specsvc token new``: the token alone on the first line, then its tokens-file entry."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

from specsvc.auth import Principal, TokenStore
from specsvc.cli import main


def run(argv: list[str]) -> int:
    return main(argv)


def test_token_new_prints_the_token_alone_then_its_yaml_entry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["token", "new", "--name", "alice", "--role", "author", "--role", "publisher"]) == 0
    token, _, entry = capsys.readouterr().out.partition("\n")
    assert re.fullmatch(r"sst_[A-Za-z0-9_-]{43}", token)
    assert yaml.safe_load(entry) == [
        {
            "principal": "alice",
            "sha256": hashlib.sha256(token.encode()).hexdigest(),
            "roles": ["author", "publisher"],
        }
    ]


def test_the_printed_entry_makes_a_tokens_file_that_accepts_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["token", "new", "--name", "bob", "--role", "reader"])
    token, _, entry = capsys.readouterr().out.partition("\n")
    path = tmp_path / "tokens.yaml"
    path.write_text("tokens:\n" + entry)
    assert token not in path.read_text()
    assert TokenStore.from_file(path).authenticate(token) == Principal("bob", frozenset({"reader"}))


def test_each_run_makes_a_different_token(capsys: pytest.CaptureFixture[str]) -> None:
    run(["token", "new", "--name", "bob", "--role", "reader"])
    run(["token", "new", "--name", "bob", "--role", "reader"])
    lines = capsys.readouterr().out.splitlines()
    tokens = [line for line in lines if line.startswith("sst_")]
    assert len(tokens) == 2 and tokens[0] != tokens[1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "new", "--name", "alice", "--role", "root"], "invalid choice: 'root'"),
        (["token", "new", "--name", "alice"], "--role"),
        (["token", "new", "--role", "reader"], "--name"),
        (["token"], "ACTION"),
    ],
    ids=["unknown role", "no role", "no name", "no subcommand"],
)
def test_bad_usage_exits_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_an_empty_name_is_refused_without_printing_a_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["token", "new", "--name", "", "--role", "reader"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "principal" in captured.err


@pytest.mark.parametrize("argv", [["token", "--help"], ["token", "new", "--help"]])
def test_the_help_shows_an_example(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 0
    assert "example:\n  specsvc token new --name alice --role author" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["before", "after"])
def test_json_gives_the_token_and_its_entry(where: str, capsys: pytest.CaptureFixture[str]) -> None:
    command = ["token", "new", "--name", "alice", "--role", "reader"]
    argv = ["--json", *command] if where == "before" else [*command, "--json"]
    assert run(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["entry"] == {
        "principal": "alice",
        "sha256": hashlib.sha256(printed["token"].encode()).hexdigest(),
        "roles": ["reader"],
    }
