"""Helpers to run ``specsvc serve`` as a real process and talk to it over real HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from typing import Any

# A CLI run in this process: (exit code, stdout, stderr).
CLI = Callable[..., tuple[int, str, str]]

LISTENING = re.compile(r"REST API listening on (http://[0-9A-Za-z.:\[\]]+)")


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    log: list[str]
    reader: threading.Thread | None = None

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Message, bytes]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def json(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        status, _, raw = self.request(method, path, body, headers)
        return status, json.loads(raw) if raw else None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        if self.reader is not None:
            self.reader.join(timeout=30)
        return code


def start(
    *args: str,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Server:
    process = subprocess.Popen(
        [sys.executable, "-m", "specsvc.cli", "serve", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
        preexec_fn=preexec_fn,
    )
    assert process.stderr is not None
    log: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        log.append(line.rstrip())
        found = LISTENING.search(line)
        if found:
            # Keep reading the log: an unread pipe fills up and blocks the server's logging.
            reader = threading.Thread(target=_keep_reading, args=(process, log), daemon=True)
            reader.start()
            return Server(process, found.group(1), log, reader)
    process.kill()
    raise AssertionError("server did not start:\n" + "\n".join(log))


def _keep_reading(process: subprocess.Popen[str], log: list[str]) -> None:
    assert process.stderr is not None
    log.extend(line.rstrip() for line in process.stderr)


@contextmanager
def running(
    *args: str,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[Server]:
    server = start(*args, env=env, preexec_fn=preexec_fn)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.stop(signal.SIGKILL)
