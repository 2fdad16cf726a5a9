"""REST throughput and latency, as ratios against a trivial app on the same WSGI server.

For each WSGI server (waitress, cheroot): a bare WSGI app (the server's floor), then the
Spec Service app: GET /v1/specs/{name}/published and PUT /v1/specs/{name}/content, from
client threads with keep-alive connections in this process.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from benchmarks._common import Stats, parse_args, print_table, temp_dir, yaml_content

FULL = {"requests": 3000, "clients": 4}
QUICK = {"requests": 200, "clients": 2}
SERVERS = ("waitress", "cheroot")


def start_server(server: str, app: str, db: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._rest_server", server, app, db],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def load(port: int, requests: int, clients: int, make: Callable[[int], tuple]) -> Stats:
    """``requests`` requests from ``clients`` threads; ``make(i)`` gives method, path, body."""
    samples: list[int] = []
    lock = threading.Lock()
    started = time.perf_counter_ns()

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for i in range(offset, requests, clients):
            method, path, body = make(i)
            headers = {"Content-Type": "application/json"} if body else {}
            begin = time.perf_counter_ns()
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter_ns() - begin)
            assert response.status == 200, response.status
        connection.close()
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = Stats(samples)
    stats.total_s = (time.perf_counter_ns() - started) / 1e9  # wall time: throughput
    return stats


def run(server: str, directory: str, requests: int, clients: int) -> list[list]:
    rows = []
    cases: dict[str, tuple[str, Callable[[int], tuple]]] = {
        "bare app GET": ("bare", lambda i: ("GET", "/", None)),
        "GET published": ("spec", lambda i: ("GET", f"/v1/specs/spec-{i % 50}/published", None)),
        "PUT content": (
            "spec",
            lambda i: (
                "PUT",
                f"/v1/specs/spec-{i % 50}/content",
                json.dumps({"content": yaml_content(1000 + i, 1500), "reason": "bench"}),
            ),
        ),
    }
    processes: dict[str, tuple[subprocess.Popen[str], int]] = {}
    try:
        for label, (app, make) in cases.items():
            if app not in processes:
                processes[app] = start_server(server, app, os.path.join(directory, f"{server}.db"))
            port = processes[app][1]
            load(port, min(50, requests), clients, make)  # warm up
            rows.append([server, label, load(port, requests, clients, make)])
    finally:
        for process, _ in processes.values():
            process.terminate()
            process.wait(timeout=30)
    return rows


def main() -> None:
    args = parse_args(__doc__ or "")
    config = QUICK if args.quick else FULL
    results = []
    with temp_dir() as directory:
        for server in SERVERS:
            results += run(server, directory, config["requests"], config["clients"])
    floors = {server: stats for server, label, stats in results if label == "bare app GET"}
    table = [
        [
            server,
            label,
            s.n,
            s.ops_per_s,
            s.p50_us,
            s.p99_us,
            s.p50_us / floors[server].p50_us,
            floors[server].ops_per_s / s.ops_per_s,
        ]
        for server, label, s in results
    ]
    print(
        f"bench_rest: {config['clients']} keep-alive client threads, {config['requests']}"
        " requests per row; specs of ~1.5 KB; x floor = against the bare app on that server"
    )
    print_table(
        "latency in microseconds",
        ["server", "request", "n", "req/s", "p50", "p99", "p50 x floor", "floor req/s ÷ req/s"],
        table,
        left=2,
    )


if __name__ == "__main__":
    main()
