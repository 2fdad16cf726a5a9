"""The scaled topology of deploy/compose.yaml, as local processes: API instances
(``specsvc serve`` on PostgreSQL), projection workers (``specsvc project``) and HAProxy
with deploy/haproxy.cfg in front of the instances.

Used by tests/e2e/topology and benchmarks/bench_scaled.py. Every process is started from
this checkout (``python -m specsvc.cli`` with the checkout first on ``PYTHONPATH``), on
loopback ports, and killed when the ``running_topology`` block ends, however it ends.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.support import ROOT

HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
START_TIMEOUT = 60.0

_REST = re.compile(r"REST API listening on http://([0-9A-Za-z.:\[\]]+)")
_GRPC = re.compile(r"gRPC API listening on ([0-9A-Za-z.:\[\]]+)")
_HEALTH = re.compile(r"worker health listening on http://([0-9A-Za-z.:\[\]]+)")


@dataclass
class Process:
    """A started process and everything it wrote to stderr (read by a thread)."""

    name: str
    popen: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, name=f"log-{self.name}", daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            with self._changed:
                self.log.append(line.rstrip())
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_line(self, pattern: re.Pattern[str], timeout: float = START_TIMEOUT) -> str:
        """The first group of the first log line matching ``pattern``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.log:
                    found = pattern.search(line)
                    if found:
                        return found.group(1)
                if self.popen.poll() is not None and not self._reading():
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(min(remaining, 0.5))
        raise AssertionError(f"{self.name} did not log {pattern.pattern}:\n" + self.tail())

    def _reading(self) -> bool:
        return any(t.name == f"log-{self.name}" for t in threading.enumerate())

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log[-lines:])

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.alive():
            self.popen.kill()
        self.popen.wait(timeout=30)

    def stop(self) -> int:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(timeout=30)


@dataclass
class Api:
    process: Process
    rest: str  # http://HOST:PORT
    grpc: str  # HOST:PORT


@dataclass
class Worker:
    process: Process
    health: str  # http://HOST:PORT

    def readiness(self) -> dict[str, Any]:
        return get_json(self.health + "/readyz")[1]

    def state(self) -> str | None:
        try:
            return self.readiness()["worker"]["state"]
        except OSError:
            return None


@dataclass
class Topology:
    """The running processes; ``rest`` and ``grpc`` are the balancer's addresses."""

    database_url: str
    env: dict[str, str]
    apis: list[Api] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    balancers: list[Process] = field(default_factory=list)
    rest: str = ""
    grpc: str = ""
    _processes: list[Process] = field(default_factory=list)

    def spawn(self, name: str, command: Sequence[str], env: Mapping[str, str]) -> Process:
        popen = subprocess.Popen(
            list(command),
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        process = Process(name, popen)
        self._processes.append(process)
        return process

    def specsvc(self, name: str, *args: str) -> Process:
        return self.spawn(name, [sys.executable, "-m", "specsvc.cli", *args], self.env)

    def start_api(self, *extra: str) -> Api:
        name = f"api-{len(self.apis) + 1}"
        process = self.specsvc(
            name,
            "serve",
            "--database-url",
            self.database_url,
            "--rest-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "127.0.0.1:0",
            *extra,
        )
        grpc = process.wait_for_line(_GRPC)
        rest = "http://" + process.wait_for_line(_REST)
        api = Api(process, rest, grpc)
        self.apis.append(api)
        return api

    def start_worker(self, expect: str) -> Worker:
        """A ``specsvc project`` that has reached ``expect`` ("active" or "standby")."""
        name = f"worker-{len(self.workers) + 1}"
        process = self.specsvc(
            name,
            "project",
            "--database-url",
            self.database_url,
            "--health-addr",
            "127.0.0.1:0",
        )
        worker = Worker(process, "http://" + process.wait_for_line(_HEALTH))
        self.workers.append(worker)
        eventually(lambda: worker.state() == expect, f"{name} {expect}", process)
        return worker

    def start_balancer(self, rest: Sequence[str], grpc: Sequence[str]) -> tuple[str, str]:
        """HAProxy with deploy/haproxy.cfg over two REST and two gRPC servers (an
        instance named twice is one instance behind the balancer); its two addresses."""
        binds = {"rest": f"127.0.0.1:{free_port()}", "grpc": f"127.0.0.1:{free_port()}"}
        env = haproxy_environment(binds, (tuple(rest), tuple(grpc)))
        process = self.spawn(
            f"haproxy-{len(self.balancers) + 1}", ["haproxy", "-db", "-f", str(HAPROXY_CFG)], env
        )
        self.balancers.append(process)
        rest_url = "http://" + binds["rest"]
        eventually(lambda: _answers(rest_url + "/healthz"), "haproxy listening", process)
        return rest_url, binds["grpc"]

    def tool(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Another ``specsvc`` command of this checkout, run to its end."""
        return run_tool(*args, env=self.env)

    def close(self) -> None:
        for process in reversed(self._processes):
            process.kill()


def run_tool(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``specsvc ARGS`` of this checkout run to its end, with what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "specsvc.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def haproxy_environment(
    binds: Mapping[str, str],
    apis: tuple[Sequence[str], Sequence[str]] = (("",) * 2, ("",) * 2),
) -> dict[str, str]:
    """The variables deploy/haproxy.cfg reads: where it listens, where the instances are."""
    (rest_a, rest_b), (grpc_a, grpc_b) = apis
    return {
        "SPECSVC_LB_REST_BIND": binds.get("rest", ""),
        "SPECSVC_LB_GRPC_BIND": binds.get("grpc", ""),
        "SPECSVC_API_A_REST": rest_a,
        "SPECSVC_API_B_REST": rest_b,
        "SPECSVC_API_A_GRPC": grpc_a,
        "SPECSVC_API_B_GRPC": grpc_b,
    }


@contextmanager
def running_topology(
    database_url: str, apis: int = 2, workers: int = 2, redis_url: str | None = None
) -> Iterator[Topology]:
    """Workers (the first active, the rest standing by), API instances, and HAProxy in
    front of the first two instances (or the one, twice); everything killed at the end.
    With ``redis_url``, every instance and worker uses that query cache."""
    env = {
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "SPECSVC_LOG_FORMAT": "text",
        "SPECSVC_CONSISTENCY_TIMEOUT": "10",
        **({"SPECSVC_REDIS_URL": redis_url} if redis_url else {}),
    }
    topology = Topology(database_url, env)
    try:
        # The first worker creates the schema; the others start once it is active.
        for n in range(workers):
            topology.start_worker("active" if n == 0 else "standby")
        for _ in range(apis):
            topology.start_api()
        if apis:
            behind = (topology.apis * 2)[:2]
            topology.rest, topology.grpc = topology.start_balancer(
                [api.rest.removeprefix("http://") for api in behind],
                [api.grpc for api in behind],
            )
        yield topology
    finally:
        topology.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def eventually(check: Any, what: str, process: Process | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline or (process is not None and not process.alive()):
            log = process.tail() if process is not None else ""
            raise AssertionError(f"not {what} within {timeout} s:\n{log}")
        time.sleep(0.05)


def _answers(url: str) -> bool:
    try:
        return get_json(url)[0] == 200
    except OSError:
        return False


def request(
    url: str,
    method: str = "GET",
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, Mapping[str, str], Any]:
    """(status, headers, decoded JSON body or None) of one HTTP request; HTTP errors
    are answers, not exceptions."""
    data = None if body is None else json.dumps(body).encode()
    sent = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        sent.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        sent.add_header(key, value)
    try:
        with urllib.request.urlopen(sent, timeout=timeout) as response:
            status, answered, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answered, raw = error.code, error.headers, error.read()
    try:
        decoded = json.loads(raw) if raw else None
    except ValueError:
        decoded = raw.decode(errors="replace")
    return status, answered, decoded


def get_json(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
    status, _, body = request(url, headers=headers)
    return status, body
