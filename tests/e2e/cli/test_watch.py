"""``specsvc watch`` as a real process: the live gRPC stream, and the REST polling fallback.

Writes go over REST; what watch prints is compared with ``GET /v1/events``.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import Server, running

GRPC_LISTENING = re.compile(r"gRPC API listening on (\S+:\d+)")
RULES = "rule: {field: email, matches: '@example\\.com$'}\n"
WAIT = 60.0  # only to stop a broken build from hanging


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = str(tmp_path_factory.mktemp("watch") / "specs.db")
    with running("--db", db, "--rest-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0") as up:
        yield up


def grpc_target(server: Server) -> str:
    found = [m.group(1) for m in map(GRPC_LISTENING.search, server.log) if m]
    assert found, "no gRPC listening line in:\n" + "\n".join(server.log)
    return found[0]


def create(server: Server, name: str, type: str = "generic", **headers: str) -> None:
    body = {"name": name, "type": type, "content": RULES if type == "regex-rules" else "a: 1\n"}
    status, answer = server.json("POST", "/v1/specs", body, **headers)
    assert status == 201, answer


def update(server: Server, name: str, content: str) -> None:
    body = {"content": content, "reason": "edit"}
    status, answer = server.json("PUT", f"/v1/specs/{name}/content", body)
    assert status == 200, answer


def publish(server: Server, name: str) -> None:
    status, answer = server.json("POST", f"/v1/specs/{name}/publish", {"reason": "ship"})
    assert status == 200, answer


def rest_events(server: Server, after: int = 0, **headers: str) -> list[dict[str, Any]]:
    """Every event after ``after``, as ``GET /v1/events`` answers them."""
    events: list[dict[str, Any]] = []
    while True:
        status, page = server.json("GET", f"/v1/events?after={after}&limit=500", **headers)
        assert status == 200, page
        events += page["events"]
        after = page["next_after"]
        if len(page["events"]) < 500:
            return events


def log_end(server: Server) -> int:
    events = rest_events(server)
    return int(events[-1]["position"]) if events else 0


def run_watch(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "specsvc.cli", *argv],
        capture_output=True,
        text=True,
        timeout=WAIT,
        env={**os.environ, **(env or {})},
    )


class Watch:
    """``specsvc ARGV...`` running in the background; its stdout read line by line."""

    def __init__(self, *argv: str, ignore_sigint: bool = False):
        def ignored() -> None:  # as a shell does for a background job
            signal.signal(signal.SIGINT, signal.SIG_IGN)

        self.process = subprocess.Popen(
            [sys.executable, "-m", "specsvc.cli", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=ignored if ignore_sigint else None,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self) -> str:
        line = self.lines.get(timeout=WAIT)
        assert line is not None, f"watch ended early: {self.finish()}"
        return line

    def finish(self) -> tuple[int, list[str], str]:
        """The exit code, the lines not taken yet, and stderr."""
        try:
            code = self.process.wait(timeout=WAIT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        self.reader.join(timeout=WAIT)
        assert self.process.stderr is not None
        rest = []
        while (line := self.lines.get(timeout=WAIT)) is not None:
            rest.append(line)
        return code, rest, self.process.stderr.read()


def test_watch_over_grpc_prints_rest_writes_in_order_as_the_rest_api_shows_them(
    server: Server,
) -> None:
    head = log_end(server)
    target = grpc_target(server)
    watch = Watch(
        "--grpc-url", target, "watch", "--after", str(head), "--max-events", "4", "--json"
    )
    create(server, "g-live")
    first = watch.next_line()
    # The watcher is connected now: these can only reach it live.
    update(server, "g-live", "a: 2\n")
    publish(server, "g-live")
    create(server, "g-other", "regex-rules")
    code, rest, err = watch.finish()
    assert (code, err) == (0, "")
    printed = [json.loads(line) for line in [first, *rest]]
    assert printed == rest_events(server, head)
    assert [(e["spec"], e["event"]) for e in printed] == [
        ("g-live", "SpecCreated"),
        ("g-live", "SpecUpdated"),
        ("g-live", "SpecStateChanged"),
        ("g-other", "SpecCreated"),
    ]


def test_watch_over_grpc_filters_by_names_and_by_type_like_rest_mode(server: Server) -> None:
    head = log_end(server)
    create(server, "g-f-a")
    create(server, "g-f-b", "regex-rules")
    update(server, "g-f-a", "a: 2\n")
    create(server, "g-f-c", "regex-rules")
    publish(server, "g-f-b")
    update(server, "g-f-a", "a: 3\n")
    grpc = ("--grpc-url", grpc_target(server))
    for filters, expected in (
        (["--spec", "g-f-a", "--spec", "g-f-c"], ["g-f-a", "g-f-a", "g-f-c", "g-f-a"]),
        (["--type", "regex-rules"], ["g-f-b", "g-f-c", "g-f-b"]),
        (["--spec", "g-f-a", "--spec", "g-f-b", "--type", "regex-rules"], ["g-f-b", "g-f-b"]),
    ):
        argv = ["watch", "--after", str(head), *filters, "--max-events", str(len(expected))]
        over_grpc = run_watch(*argv, *grpc)
        assert (over_grpc.returncode, over_grpc.stderr) == (0, "")
        assert [line.split()[2] for line in over_grpc.stdout.splitlines()] == expected
        over_rest = run_watch("--url", server.url, *argv)
        assert over_rest.stdout == over_grpc.stdout


def test_watch_over_grpc_after_0_replays_the_whole_log(server: Server) -> None:
    create(server, "g-replay")
    publish(server, "g-replay")
    events = rest_events(server)
    argv = ["watch", "--after", "0", "--max-events", str(len(events))]
    over_grpc = run_watch(*argv, "--grpc-url", grpc_target(server))
    assert (over_grpc.returncode, over_grpc.stderr) == (0, "")
    positions = [int(line.split()[0]) for line in over_grpc.stdout.splitlines()]
    assert positions == [e["position"] for e in events] == list(range(1, len(events) + 1))
    # Text lines are the same in both modes, byte for byte.
    assert run_watch("--url", server.url, *argv).stdout == over_grpc.stdout


def test_watch_over_grpc_prints_every_event_once_across_a_server_restart(
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:  # a free port, so that the server comes back on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = ("--db", str(tmp_path / "specs.db"), "--rest-addr", "127.0.0.1:0")
    args += ("--grpc-addr", f"127.0.0.1:{port}")
    with running(*args) as before:
        create(before, "g-start")
        head = log_end(before)
        target = f"127.0.0.1:{port}"
        watch = Watch("watch", "--grpc-url", target, "--after", str(head), "--max-events", "8")
        create(before, "g-r-1")
        first = watch.next_line()
        # More writes, and a stop while they may still be on their way to the watcher.
        for n in (2, 3):
            update(before, "g-r-1", f"a: {n}\n")
        create(before, "g-r-2")
        assert before.stop(signal.SIGTERM) == 0
    with running(*args) as after:
        # Written as soon as the server is back, likely before the watcher reconnects.
        create(after, "g-r-3")
        publish(after, "g-r-3")
        printed = [first, *(watch.next_line() for _ in range(5))]
        # The watcher has reconnected: these can only reach it live.
        update(after, "g-r-3", "a: 2\n")
        publish(after, "g-r-3")
        code, rest, err = watch.finish()
        expected = rest_events(after, head)
    assert code == 0, err
    assert "reconnecting after position" in err
    printed += rest
    assert [int(line.split()[0]) for line in printed] == [e["position"] for e in expected]
    assert len(expected) == 8


def test_watch_over_grpc_exit_codes_auth_6_invalid_3_unreachable_7(tmp_path: Path) -> None:
    reader, admin = "sst_watch-reader", "sst_watch-admin"
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        "tokens:\n"
        f"  - {{principal: rita, sha256: {_sha256(reader)}, roles: [reader]}}\n"
        f"  - {{principal: carol, sha256: {_sha256(admin)}, roles: [admin]}}\n"
    )
    args = ("--db", str(tmp_path / "specs.db"), "--rest-addr", "127.0.0.1:0")
    args += ("--grpc-addr", "127.0.0.1:0", "--auth-tokens-file", str(tokens))
    with running(*args) as server:
        create(server, "g-auth", Authorization=f"Bearer {admin}")
        target = grpc_target(server)
        for token in ([], ["--token", "sst_not-a-token"]):
            refused = run_watch("watch", "--grpc-url", target, "--after", "0", *token)
            assert refused.returncode == 6, refused.stderr
            assert refused.stderr.startswith("Unauthenticated: ")
        environment = {"SPECSVC_GRPC_URL": target, "SPECSVC_TOKEN": reader}
        allowed = run_watch("watch", "--after", "0", "--max-events", "1", env=environment)
        assert (allowed.returncode, allowed.stderr) == (0, "")
        assert allowed.stdout.split()[2:4] == ["g-auth", "SpecCreated"]
        invalid = run_watch("watch", "--after", "-1", env=environment)
        assert invalid.returncode == 3 and invalid.stderr.startswith("BadRequest: ")
    unreachable = run_watch("watch", "--grpc-url", target, "--after", "0")
    assert unreachable.returncode == 7
    assert unreachable.stderr.startswith(f"Unavailable: cannot reach {target}")


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.mark.parametrize("mode", ["grpc", "rest"])
def test_ctrl_c_stops_watch_with_0_even_when_sigint_was_inherited_as_ignored(
    server: Server, mode: str
) -> None:
    where = ["--grpc-url", grpc_target(server)] if mode == "grpc" else ["--interval", "0.05"]
    watch = Watch("--url", server.url, "watch", *where, ignore_sigint=True)
    stop = threading.Event()

    def keep_creating() -> None:  # until the watcher, starting from now, sees one
        for n in range(600):
            if stop.is_set():
                return
            create(server, f"g-int-{mode}-{n}")
            time.sleep(0.05)

    writer = threading.Thread(target=keep_creating)
    writer.start()
    try:
        first = watch.next_line().split()
    finally:
        stop.set()
        writer.join()
    assert first[2].startswith(f"g-int-{mode}-") and first[3] == "SpecCreated"
    watch.process.send_signal(signal.SIGINT)
    code, _, err = watch.finish()
    assert (code, err) == (0, "")
