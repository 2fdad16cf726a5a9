"""The client commands of ``specsvc`` against a real ``specsvc serve`` process."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import specsvc.cli.rest_client
from specsvc.cli import main
from tests.support.processes import CLI, Server, running

RULES = "rule: {field: email, matches: '@example\\.com$'}\n"
ODD_YAML = (
    b"# leading comment\n"
    b"rule:    {field: email,   matches: '@example\\.org$'}   # trailing   \n"
    b"\n"
    b"description:  'spaces  kept'\n"
    b"# no newline at the end"
)




def run_process(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "specsvc.cli", *argv],
        input=stdin,
        capture_output=True,
        timeout=60,
    )


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(path)


def test_create_reads_the_file_and_prints_one_line(cli: CLI, tmp_path: Path) -> None:
    code, out, err = cli(
        "create",
        "c-file",
        "--type",
        "regex-rules",
        "--file",
        write(tmp_path, "r.yaml", RULES),
        "--reason",
        "first",
    )
    assert (code, err) == (0, "")
    assert out == "created c-file: draft, version 1, published never, revision 1\n"


@pytest.mark.parametrize("file_args", [["--file", "-"], []])
def test_content_comes_from_stdin_when_the_file_is_dash_or_omitted(
    cli: CLI, server: Server, file_args: list[str]
) -> None:
    name = f"c-stdin-{len(file_args)}"
    assert cli("create", name, "--type", "generic", *file_args, stdin=b"a: 1\n")[0] == 0
    code, out, _ = cli("update", name, *file_args, "--reason", "more", stdin=b"a: 2\n")
    assert code == 0 and "version 2" in out
    assert server.json("GET", f"/v1/specs/{name}")[1]["content"] == "a: 2\n"


def test_publish_rollback_deprecate_and_delete(cli: CLI, server: Server) -> None:
    cli("create", "c-life", "--type", "generic", stdin=b"v: 1\n")
    cli("update", "c-life", "--reason", "two", stdin=b"v: 2\n")
    assert cli("publish", "c-life", "--reason", "go")[1].startswith("published c-life: published")
    code, out, _ = cli("publish", "c-life", "--reason", "roll back", "--version", "1")
    assert code == 0 and "published 1" in out
    assert cli("deprecate", "c-life", "--reason", "old")[1].startswith(
        "deprecated c-life: deprecated"
    )
    assert cli("delete", "c-life", "--reason", "gone")[1].startswith("deleted c-life: deleted")
    history = server.json("GET", "/v1/specs/c-life/history")[1]["events"]
    assert [e["reason"] for e in history] == [None, "two", "go", "roll back", "old", "gone"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_json_is_the_response_whether_given_before_or_after_the_command(
    cli: CLI, where: str
) -> None:
    name = f"c-json-{where}"
    argv = ["create", name, "--type", "generic"]
    argv = ["--json", *argv] if where == "before" else [*argv, "--json"]
    code, out, _ = cli(*argv, stdin=b"k: v\n")
    spec = json.loads(out)
    assert code == 0
    assert (spec["name"], spec["version"], spec["content"]) == (name, 1, "k: v\n")


def test_a_url_after_the_command_wins(cli: CLI, server: Server) -> None:
    # The fixture puts a working --url first; a later one must replace it, not be ignored.
    code, _, err = cli("list", "--url", "http://127.0.0.1:9")
    assert code == 7 and err.startswith("Unavailable: cannot reach http://127.0.0.1:9")


def test_get_shows_metadata_then_content_now_at_a_version_and_as_of(
    cli: CLI, server: Server
) -> None:
    cli("create", "c-get", "--type", "generic", stdin=b"v: 1\n")
    time.sleep(0.01)
    between = server.json("GET", "/v1/specs/c-get")[1]["updated_at"]
    cli("update", "c-get", "--reason", "two", stdin=b"v: 2\n")
    code, out, _ = cli("get", "c-get")
    assert code == 0 and "state: draft\nversion: 2\n" in out and out.endswith("\n\nv: 2\n")
    code, out, _ = cli("get", "c-get", "--version", "1")
    assert code == 0 and "reason: -\nsize: 5\n" in out and out.endswith("\n\nv: 1\n")
    as_of = json.loads(cli("get", "c-get", "--as-of", between, "--json")[1])
    assert (as_of["version"], as_of["content"]) == (1, "v: 1\n")


def test_get_raw_prints_the_stored_bytes_exactly(server: Server, tmp_path: Path) -> None:
    path = write(tmp_path, "odd.yaml", ODD_YAML)
    created = run_process(
        "--url", server.url, "create", "c-raw", "--type", "regex-rules", "--file", path
    )
    assert created.returncode == 0, created.stderr
    run_process(
        "--url",
        server.url,
        "update",
        "c-raw",
        "--reason",
        "x",
        stdin=b"rule: {field: a, matches: b}\n",
    )
    at_version = run_process("--url", server.url, "get", "c-raw", "--version", "1", "--raw")
    assert (at_version.returncode, at_version.stdout) == (0, ODD_YAML)
    latest = run_process("--url", server.url, "get", "c-raw", "--raw")
    assert latest.stdout == b"rule: {field: a, matches: b}\n"


def test_list_follows_every_page_into_one_table(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(5):
        cli("create", f"c-page-{n}", "--type", "generic", stdin=b"a: 1\n")
    cli("publish", "c-page-3", "--reason", "go")
    monkeypatch.setattr(specsvc.cli.rest_client, "PAGE_SIZE", 2)
    code, out, _ = cli("list", "--prefix", "c-page-")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == [
        "NAME",
        "TYPE",
        "STATE",
        "VERSION",
        "PUBLISHED",
        "UPDATED",
    ]
    assert [line.split()[0] for line in lines[1:]] == [f"c-page-{n}" for n in range(5)]
    assert lines[4].split()[2:5] == ["published", "1", "1"]
    listed = json.loads(cli("list", "--prefix", "c-page-", "--state", "published", "--json")[1])
    assert [s["name"] for s in listed["specs"]] == ["c-page-3"]


def test_versions_and_history(cli: CLI) -> None:
    cli("create", "c-hist", "--type", "generic", "--reason", "born", stdin=b"a: 1\n")
    cli("update", "c-hist", "--reason", "grown", stdin=b"a: 2\n")
    cli("publish", "c-hist", "--reason", "shown")
    versions = cli("versions", "c-hist")[1].splitlines()
    assert versions[0].split() == ["VERSION", "CREATED", "BY", "SIZE", "SHA256", "REASON"]
    assert [v.split()[0] for v in versions[1:]] == ["1", "2"]
    assert versions[2].split()[-1] == "grown"
    history = cli("history", "c-hist")[1].splitlines()
    assert [h.split()[3] for h in history] == ["SpecCreated", "SpecUpdated", "SpecStateChanged"]
    assert "draft->published" in history[2] and history[2].endswith("by anonymous: shown")
    events = json.loads(cli("history", "c-hist", "--json")[1])["events"]
    assert [e["sequence"] for e in events] == [1, 2, 3]


def test_diff_is_plain_when_piped_coloured_on_a_terminal_and_json_on_request(
    cli: CLI, server: Server
) -> None:
    cli("create", "c-diff", "--type", "generic", stdin=b"a: 1\nb: 2\n")
    cli("update", "c-diff", "--reason", "x", stdin=b"a: 1\nb: 3\n")
    piped = run_process("--url", server.url, "diff", "c-diff", "1", "2")
    assert piped.returncode == 0 and b"\x1b[" not in piped.stdout
    assert b"-b: 2\n+b: 3\n" in piped.stdout and piped.stdout.startswith(b"--- c-diff@v1\n")
    on_terminal = _run_on_a_terminal("--url", server.url, "diff", "c-diff", "1", "2")
    assert b"\x1b[31m-b: 2\x1b[0m" in on_terminal and b"\x1b[32m+b: 3\x1b[0m" in on_terminal
    result = json.loads(cli("diff", "c-diff", "1", "2", "--json")[1])
    assert result["changes"] == [{"op": "replace", "path": "/b"}]


def _run_on_a_terminal(*argv: str) -> bytes:
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "specsvc.cli", *argv], stdout=follower)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=30)
    os.close(leader)
    return output


def test_evaluate_reads_json_or_yaml_input(cli: CLI, tmp_path: Path) -> None:
    cli("create", "c-eval", "--type", "regex-rules", stdin=RULES.encode())
    as_json = write(tmp_path, "in.json", '{"email": "ann@example.com"}')
    code, out, _ = cli("evaluate", "c-eval", "--input", as_json)
    assert code == 0 and out.startswith("result: true (version 1)\ntrace:\n")
    assert "/rule  email matches '@example\\\\.com$'  -> true" in out
    code, out, _ = cli("evaluate", "c-eval", "--input", "-", "--json", stdin=b"email: x@y.z\n")
    assert (code, json.loads(out)["result"]) == (0, False)


def test_not_found_is_exit_4(cli: CLI) -> None:
    code, out, err = cli("get", "c-missing")
    assert (code, out) == (4, "")
    assert err == "SpecNotFound: spec 'c-missing' not found\n"
    cli("create", "c-v", "--type", "generic", stdin=b"a: 1\n")
    assert cli("get", "c-v", "--version", "9")[0] == 4


def test_conflicts_are_exit_5(cli: CLI) -> None:
    cli("create", "c-dup", "--type", "generic", stdin=b"a: 1\n")
    code, _, err = cli("create", "c-dup", "--type", "generic", stdin=b"a: 1\n")
    assert code == 5 and err.startswith("SpecAlreadyExists: ")
    code, _, err = cli(
        "update", "c-dup", "--reason", "r", "--expected-version", "7", stdin=b"a: 2\n"
    )
    assert code == 5 and err.startswith("VersionMismatch: ")
    code, _, err = cli("deprecate", "c-dup", "--reason", "r")
    assert code == 5 and err.startswith("InvalidStateTransition: ")


def test_invalid_input_is_exit_3_with_every_problem(cli: CLI) -> None:
    code, _, err = cli("create", "c-bad", "--type", "regex-rules", stdin=b"rule: 1\n")
    lines = err.splitlines()
    assert code == 3 and lines[0].startswith("ValidationError: ")
    assert "  /rule: 1 is not of type 'object'" in lines
    assert cli("list", "--state", "sideways")[0] == 3  # BadRequest
    assert cli("create", "c-bin", "--type", "generic", stdin=b"\xff\xfe")[0] == 3


def test_usage_errors_are_exit_2(cli: CLI, tmp_path: Path) -> None:
    assert cli("update", "c-any")[0] == 2  # --reason is required
    code, _, err = cli("create", "c-nofile", "--type", "generic", "--file", str(tmp_path / "none"))
    assert code == 2 and err.startswith("UsageError: cannot read ")


def test_unreachable_server_is_exit_7() -> None:
    result = run_process("--url", "http://127.0.0.1:9", "get", "anything")
    assert result.returncode == 7
    assert result.stderr.startswith(b"Unavailable: cannot reach http://127.0.0.1:9")


def test_auth_failures_are_exit_6(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = "sst_cli-reader-token"
    digest = hashlib.sha256(token.encode()).hexdigest()
    tokens = write(
        tmp_path,
        "tokens.yaml",
        f"tokens: [{{principal: rita, sha256: {digest}, roles: [reader]}}]\n",
    )
    db = str(tmp_path / "auth.db")
    with running("--db", db, "--rest-addr", "127.0.0.1:0", "--auth-tokens-file", tokens) as server:
        assert main(["--url", server.url, "list"]) == 6
        assert capsys.readouterr().err.startswith("Unauthenticated: ")
        assert main(["--url", server.url, "--token", token, "list"]) == 0
        assert main(["--url", server.url, "list", "--token", token]) == 0
        capsys.readouterr()
        environment = {**os.environ, "SPECSVC_URL": server.url, "SPECSVC_TOKEN": token}
        denied = subprocess.run(
            [sys.executable, "-m", "specsvc.cli", "delete", "x", "--reason", "r"],
            capture_output=True,
            env=environment,
            timeout=60,
        )
        assert denied.returncode == 6 and denied.stderr.startswith(b"PermissionDenied: ")


def test_watch_prints_events_after_a_position_filtered(cli: CLI, server: Server) -> None:
    after = server.json("GET", "/v1/events?after=0&limit=500")[1]["next_after"]
    cli("create", "c-w1", "--type", "generic", stdin=b"a: 1\n")
    cli("create", "c-w2", "--type", "regex-rules", stdin=RULES.encode())
    cli("update", "c-w1", "--reason", "again", stdin=b"a: 2\n")
    code, out, _ = cli("watch", "--after", str(after), "--max-events", "3")
    assert code == 0 and [line.split()[2] for line in out.splitlines()] == ["c-w1", "c-w2", "c-w1"]
    code, out, _ = cli(
        "watch", "--after", str(after), "--spec", "c-w1", "--max-events", "2", "--json"
    )
    events = [json.loads(line) for line in out.splitlines()]
    assert [(e["spec"], e["event"]) for e in events] == [
        ("c-w1", "SpecCreated"),
        ("c-w1", "SpecUpdated"),
    ]
    out = cli("watch", "--after", str(after), "--type", "regex-rules", "--max-events", "1")[1]
    assert out.split()[2:4] == ["c-w2", "SpecCreated"]


def test_watch_follows_from_now_and_stops_cleanly_on_ctrl_c(server: Server) -> None:
    server.json("POST", "/v1/specs", {"name": "c-old", "type": "generic", "content": "a: 1\n"})
    watcher = subprocess.Popen(
        [sys.executable, "-m", "specsvc.cli", "--url", server.url, "watch", "--interval", "0.05"],
        stdout=subprocess.PIPE,
        text=True,
    )
    stop = threading.Event()

    def keep_creating() -> None:  # until the watcher, starting meanwhile, sees one
        for n in range(300):
            if stop.is_set():
                return
            body = {"name": f"c-now-{n}", "type": "generic", "content": "a: 1\n"}
            server.json("POST", "/v1/specs", body)
            time.sleep(0.05)

    writer = threading.Thread(target=keep_creating)
    writer.start()
    try:
        assert watcher.stdout is not None
        first = watcher.stdout.readline().split()
    finally:
        stop.set()
        writer.join()
    assert first[2].startswith("c-now-") and first[3] == "SpecCreated"
    watcher.send_signal(signal.SIGINT)
    assert watcher.wait(timeout=30) == 0


def positions_file() -> Path:
    return Path(os.environ["SPECSVC_STATE_DIR"]) / "positions.json"


def test_reads_ask_for_the_position_of_your_last_write(cli: CLI, server: Server) -> None:
    code, out, _ = cli("--json", "create", "c-pos", "--type", "generic", stdin=b"a: 1\n")
    assert code == 0
    written = json.loads(out)["position"]
    assert json.loads(positions_file().read_text())[server.url] == written
    # Asking for a position the log has not reached is refused, naming the position.
    code, _, err = cli("--min-position", str(written + 1000), "list")
    assert code == 3 and "past the last position" in err
    code, out, _ = cli("--min-position", str(written), "--json", "get", "c-pos")
    assert code == 0 and json.loads(out)["version"] == 1


def test_a_remembered_position_from_a_replaced_store_is_forgotten(
    cli: CLI, server: Server
) -> None:
    positions_file().parent.mkdir(parents=True, exist_ok=True)
    positions_file().write_text(json.dumps({server.url: 10**9, "http://elsewhere": 5}))
    code, out, err = cli("--json", "list")
    assert (code, err) == (0, "")
    assert isinstance(json.loads(out)["specs"], list)
    assert json.loads(positions_file().read_text()) == {"http://elsewhere": 5}
