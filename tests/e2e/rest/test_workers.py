"""``specsvc serve --workers 2``: two real API processes on one SQLite store, sharing
their REST and gRPC ports; the kernel gives each new connection to one of them.

A test reaches a given worker by opening connections until one is answered by that
worker's pid (``/healthz`` names it) and keeping that connection open.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest

from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from grpc_api.protos.specsvc.v1 import spec_service_pb2_grpc as rpc
from specsvc.config import Settings
from tests.support.processes import Server, running
from tests.support.stores import running_worker, scratch_database

WAIT = 30.0  # only to stop a broken build from hanging; never a performance bound
SERVING = re.compile(r"serving with (\d+) workers \(pids ([\d, ]+)\)")
GRPC_LISTENING = re.compile(r"gRPC API listening on (\S+:\d+)")
EXIT_SERVER = 7


class Connection:
    """One kept-alive HTTP connection, so every request goes to the same worker."""

    def __init__(self, server: Server):
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        self.http = http.client.HTTPConnection(host, int(port), timeout=WAIT)
        self.pid = self.json("GET", "/healthz")[1]["pid"]

    def json(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        self.http.request(method, path, body=data, headers=headers)
        response = self.http.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None

    def close(self) -> None:
        self.http.close()


def worker_pids(server: Server) -> list[int]:
    found = [m for m in map(SERVING.search, server.log) if m]
    assert found, "no 'serving with N workers' line in:\n" + "\n".join(server.log)
    return [int(pid) for pid in found[0].group(2).split(", ")]


@contextmanager
def one_connection_each(server: Server) -> Iterator[dict[int, Connection]]:
    """A kept-alive connection to every worker, by pid."""
    wanted = set(worker_pids(server))
    chosen: dict[int, Connection] = {}
    spare: list[Connection] = []
    try:
        for _ in range(200):
            connection = Connection(server)
            if connection.pid in chosen:
                spare.append(connection)
            else:
                chosen[connection.pid] = connection
            if set(chosen) == wanted:
                break
        for connection in spare:
            connection.close()
        assert set(chosen) == wanted, f"connections reached {set(chosen)}, not {wanted}"
        yield chosen
    finally:
        for connection in chosen.values():
            connection.close()


def serve_args(tmp_path: Path, *more: str) -> tuple[str, ...]:
    db = str(tmp_path / "specs.db")
    return ("--db", db, "--rest-addr", "127.0.0.1:0", "--workers", "2", *more)


def running_pids(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        alive.append(pid)
    return alive


def wait_gone(pids: list[int]) -> bool:
    deadline = time.monotonic() + WAIT
    while running_pids(pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def create(connection: Connection, name: str) -> None:
    body = {"name": name, "type": "generic", "content": "n: 0\n"}
    assert connection.json("POST", "/v1/specs", body)[0] == 201


def writes_read_by_the_other(
    connections: dict[int, Connection], name: str, count: int
) -> Iterator[tuple[int, Connection, dict[str, Any]]]:
    """Creates ``name`` through the first worker, then writes version n + 1 through the
    workers in turn: (n, a connection to the worker that did not write it, the answer)."""
    first, second = connections.values()
    create(first, name)
    for n in range(1, count + 1):
        writer, reader = (first, second) if n % 2 else (second, first)
        status, written = writer.json(
            "PUT", f"/v1/specs/{name}/content", {"content": f"n: {n}\n", "reason": name}
        )
        assert status == 200
        yield n, reader, written


def test_both_workers_answer_on_one_port_and_sigterm_stops_them_all(tmp_path: Path) -> None:
    with running(*serve_args(tmp_path)) as server:
        pids = worker_pids(server)
        assert len(pids) == 2 and server.process.pid not in pids
        with one_connection_each(server) as connections:
            assert set(connections) == set(pids)
            for pid, connection in connections.items():
                status, health = connection.json("GET", "/healthz")
                assert (status, health) == (200, {"status": "ok", "pid": pid})
        assert server.stop(signal.SIGTERM) == 0
        assert wait_gone(pids)
        assert not [line for line in server.log if "ERROR" in line or "Traceback" in line]


def test_racing_writers_through_the_shared_port_make_gapless_versions(tmp_path: Path) -> None:
    writers, each = 6, 8
    with running(*serve_args(tmp_path)) as server:
        with one_connection_each(server) as connections:
            create(next(iter(connections.values())), "raced")
        acknowledged: list[int] = []
        served_by: set[int] = set()
        lock = threading.Lock()
        barrier = threading.Barrier(writers)

        def write(n: int) -> None:
            connection = Connection(server)  # a new connection: either worker
            barrier.wait()
            try:
                for i in range(each):
                    status, body = connection.json(
                        "PUT",
                        "/v1/specs/raced/content",
                        {"content": f"n: {n}-{i}\n", "reason": "race"},
                    )
                    if status == 200:
                        with lock:
                            acknowledged.append(body["version"])
                            served_by.add(connection.pid)
                    else:
                        assert status in (409, 503), body
            finally:
                connection.close()

        threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT * 2)
        assert acknowledged, "no write was acknowledged"
        assert sorted(acknowledged) == list(range(2, 2 + len(acknowledged)))
        with one_connection_each(server) as connections:
            for connection in connections.values():
                head = connection.json("GET", "/v1/events?spec=raced&limit=100")[1]["events"][-1]
                status, spec = connection.json(
                    "GET", "/v1/specs/raced", **{"X-Min-Position": str(head["position"])}
                )
                assert (status, spec["version"]) == (200, 1 + len(acknowledged))
                status, history = connection.json("GET", "/v1/specs/raced/history")
                versions = [e["version"] for e in history["events"]]
                assert versions == list(range(1, 2 + len(acknowledged)))
        assert server.stop(signal.SIGTERM) == 0
        # Workers that projected the same position raced quietly.
        assert not [line for line in server.log if "ERROR" in line or "Traceback" in line]
        print(f"{len(acknowledged)} writes acknowledged, by workers {sorted(served_by)}")


def test_a_write_through_one_worker_is_read_through_the_other_with_min_position(
    tmp_path: Path,
) -> None:
    with running(*serve_args(tmp_path)) as server, one_connection_each(server) as connections:
        for n, reader, written in writes_read_by_the_other(connections, "ryw", 20):
            position = str(written["position"])
            status, spec = reader.json("GET", "/v1/specs/ryw", **{"X-Min-Position": position})
            assert (status, spec["version"], spec["content"]) == (200, n + 1, f"n: {n}\n")
            status, listed = reader.json(
                "GET", "/v1/events?spec=ryw&after=0", **{"X-Min-Position": position}
            )
            assert listed["events"][-1]["position"] == written["position"]
        assert server.stop(signal.SIGTERM) == 0


def test_a_grpc_watcher_sees_the_writes_made_through_either_worker(tmp_path: Path) -> None:
    args = serve_args(tmp_path, "--grpc-addr", "127.0.0.1:0")
    with running(*args) as server, one_connection_each(server) as connections:
        target = next(m.group(1) for m in map(GRPC_LISTENING.search, server.log) if m)
        for connection in connections.values():
            create(connection, f"watched-{connection.pid}")
        received: dict[int, float] = {}
        arrived = threading.Condition()
        with grpc.insecure_channel(target) as channel:
            grpc.channel_ready_future(channel).result(timeout=WAIT)
            stub = rpc.SpecServiceStub(channel)
            call = stub.WatchEvents(pb.WatchEventsRequest(), timeout=WAIT * 4)

            def read() -> None:
                try:
                    for event in call:
                        with arrived:
                            received[event.position] = time.monotonic()
                            arrived.notify_all()
                except grpc.RpcError:
                    pass

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            time.sleep(0.5)  # the stream is open on its worker: writes from now on are live
            latencies: dict[int, list[float]] = {pid: [] for pid in connections}
            for n in range(60):
                pid, connection = list(connections.items())[n % 2]
                sent = time.monotonic()
                status, body = connection.json(
                    "PUT",
                    f"/v1/specs/watched-{pid}/content",
                    {"content": f"n: {n + 1}\n", "reason": "watched"},  # never the same
                )
                assert status == 200
                position = body["position"]
                with arrived:
                    assert arrived.wait_for(lambda p=position: p in received, WAIT)
                latencies[pid].append(received[position] - sent)
                time.sleep(0.01)
            call.cancel()
            reader.join(WAIT)
        for pid, seen in latencies.items():
            seen.sort()
            p99 = seen[min(len(seen) - 1, int(len(seen) * 0.99))]
            print(f"writes through worker {pid}: watcher latency p99 {p99 * 1000:.1f} ms")
        assert server.stop(signal.SIGTERM) == 0


def test_sighup_to_the_master_reloads_the_tokens_file_in_every_worker(tmp_path: Path) -> None:
    token = "sst_workers-token"
    tokens = tmp_path / "tokens.yaml"
    digest = hashlib.sha256(token.encode()).hexdigest()
    tokens.write_text(f"tokens:\n  - {{principal: ann, sha256: {digest}, roles: [admin]}}\n")

    def reloads() -> int:
        return sum("tokens file reloaded" in line for line in list(server.log))

    with running(*serve_args(tmp_path, "--auth-tokens-file", str(tokens))) as server:
        before = reloads()
        server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + WAIT
        while reloads() < before + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reloads() == before + 2
        assert server.process.poll() is None
        with one_connection_each(server) as connections:
            for connection in connections.values():
                status, _ = connection.json("GET", "/v1/specs", Authorization=f"Bearer {token}")
                assert status == 200
        assert server.stop(signal.SIGTERM) == 0


def test_a_killed_worker_stops_the_others_and_the_master_exits_7(tmp_path: Path) -> None:
    with running(*serve_args(tmp_path)) as server:
        pids = worker_pids(server)
        os.kill(pids[0], signal.SIGKILL)
        assert server.process.wait(timeout=WAIT) == EXIT_SERVER
        assert wait_gone(pids)
        server.reader and server.reader.join(WAIT)
        assert any(f"worker {pids[0]} exited (signal SIGKILL)" in line for line in server.log)


def test_workers_whose_master_is_killed_stop_by_themselves(tmp_path: Path) -> None:
    with running(*serve_args(tmp_path)) as server:
        pids = worker_pids(server)
        server.process.kill()
        assert wait_gone(pids)


@pytest.mark.system
def test_workers_over_postgres_are_api_instances_sharing_the_port() -> None:
    with scratch_database() as url, running_worker(Settings(database_url=url)):
        args = ("--database-url", url, "--rest-addr", "127.0.0.1:0", "--workers", "2")
        with running(*args) as server, one_connection_each(server) as connections:
            for _, reader, written in writes_read_by_the_other(connections, "shared", 10):
                position = str(written["position"])
                status, listed = reader.json(
                    "GET", "/v1/events?spec=shared", **{"X-Min-Position": position}
                )
                assert status == 200
                assert listed["events"][-1]["position"] == written["position"]
            assert server.stop(signal.SIGTERM) == 0
