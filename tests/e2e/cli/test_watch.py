"""``specsvc watch`` as a real process."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.processes import Server, running

RULES = "rule: {field: email, matches: '@example\\.com$'}\n"
WAIT = 60.0  # only to stop a broken build from hanging


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = str(tmp_path_factory.mktemp("watch") / "specs.db")
    with running("--db", db, "--rest-addr", "127.0.0.1:0") as up:
        yield up


def create(server: Server, name: str, type: str = "generic", **headers: str) -> None:
    body = {"name": name, "type": type, "content": RULES if type == "regex-rules" else "a: 1\n"}
    status, answer = server.json("POST", "/v1/specs", body, **headers)
    assert status == 201, answer


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


def test_ctrl_c_stops_watch_with_0_even_when_sigint_was_inherited_as_ignored(
    server: Server,
) -> None:
    watch = Watch("--url", server.url, "watch", "--interval", "0.05", ignore_sigint=True)
    stop = threading.Event()

    def keep_creating() -> None:  # until the watcher, starting from now, sees one
        for n in range(600):
            if stop.is_set():
                return
            create(server, f"w-int-{n}")
            time.sleep(0.05)

    writer = threading.Thread(target=keep_creating)
    writer.start()
    try:
        first = watch.next_line().split()
    finally:
        stop.set()
        writer.join()
    assert first[2].startswith("w-int-") and first[3] == "SpecCreated"
    watch.process.send_signal(signal.SIGINT)
    code, _, err = watch.finish()
    assert (code, err) == (0, "")
