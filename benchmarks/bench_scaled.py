"""Throughput of the scaled topology through HAProxy, one vs two API instances, and the
projection lag under load.

    python -m benchmarks.bench_scaled [--quick]

Starts the topology of deploy/compose.yaml as local processes (tests/support/topology.py):
a fresh PostgreSQL database (through the admin URL ``SPECSVC_BENCH_POSTGRES``, default
``postgresql://postgres@127.0.0.1:5432/test``, dropped at the end), one ``specsvc
project`` worker, two ``specsvc serve`` instances and two HAProxy processes with
deploy/haproxy.cfg: ``1 instance`` lists instance A twice, ``2 instances`` lists A and B.
Needs ``haproxy`` and ``wrk`` on the PATH. Every process runs on this machine, so the
instances share its cores with PostgreSQL, the worker, HAProxy and wrk.

- write: ``wrk`` PUTs new content (~300 bytes) round robin over the seeded specs, through
  the balancer, for D seconds with C connections; every request writes a new version.
- read: ``wrk`` GETs ``/v1/specs/NAME/published`` round robin, the same way.
- drain s: after each run, the seconds until both instances' ``/readyz`` answer 200 again
  (the worker has projected everything); the next run starts only then, because a read
  on an instance waits for the last write that instance acknowledged.
- commit-to-projected: one client updates its own spec in a loop (every 20 ms) through
  the two-instance balancer for D seconds, first on an idle system (the baseline), then
  while ``wrk`` writes as above; for each acknowledged write, the time from the answer's
  arrival to the worker's announcement (``NOTIFY specsvc_projected``, heard by a LISTEN
  connection in this process) of a position at or past the write's ``position``. An
  announcement heard before the answer counts as 0 (``before answer`` counts them).
  ``x idle`` = p50 / the idle p50.

``2xx/s`` counts only successful answers. Each throughput figure is measured in R
rounds, alternating which balancer goes first, and the requests and seconds of the rounds
are pooled. ``x 1 inst`` = the figure with two instances / the same figure with one.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import psycopg

from benchmarks._common import (
    WRK_READ_LUA,
    WRK_THREAD_IDS,
    Stats,
    parse_args,
    print_table,
    run_wrk,
    yaml_content,
)
from tests.support.stores import scratch_database
from tests.support.topology import Topology, request, running_topology

ADMIN_URL_VARIABLE = "SPECSVC_BENCH_POSTGRES"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
CHANNEL = "specsvc_projected"  # specsvc/persistence/postgres/schema.py: PROJECTED_CHANNEL
CONTENT_BYTES = 300
DRAIN_TIMEOUT = 300.0  # how long the worker may take to project the last probe
FULL = {"specs": 50, "seconds": 10, "connections": 16, "rounds": 2}
QUICK = {"specs": 10, "seconds": 2, "connections": 4, "rounds": 1}

# wrk scripts: each thread walks the specs from its own offset; a write's content is new.
WRITE_LUA = (
    WRK_THREAD_IDS
    + """
function request()
  counter = counter + 1
  local spec = "bench-" .. ((counter + thread_id * 7) % SPECS)
  local body = '{"reason": "bench", "content": "writer: ' .. thread_id .. '\\\\nn: '
    .. counter .. '\\\\npad: PAD\\\\n"}'
  return wrk.format("PUT", "/v1/specs/" .. spec .. "/content",
    {["Content-Type"] = "application/json"}, body)
end
"""
)
READ_LUA = WRK_READ_LUA


def seed(base: str, specs: int) -> None:
    for n in range(specs):
        name = f"bench-{n}"
        body = {"name": name, "type": "generic", "content": yaml_content(n, CONTENT_BYTES)}
        status, _, answer = request(base + "/v1/specs", "POST", body)
        assert status == 201, answer
        status, _, answer = request(base + f"/v1/specs/{name}/publish", "POST", {"reason": "b"})
        assert status == 200, answer


def wrk(base: str, script: str, specs: int, seconds: float, connections: int) -> dict[str, float]:
    """Requests, seconds and non-2xx answers of one ``wrk`` run."""
    pad = "x" * (CONTENT_BYTES - 40)
    text = script.replace("SPECS", str(specs)).replace("PAD", json.dumps(pad)[1:-1])
    return run_wrk(base, text, seconds, connections)


class Announcements:
    """Every projected position the worker announces, with when this process heard it."""

    def __init__(self, database_url: str):
        self.heard: list[tuple[int, int]] = []  # (perf_counter_ns, position)
        self._stop = threading.Event()
        self._connection = psycopg.connect(database_url, autocommit=True)
        self._connection.execute(f"LISTEN {CHANNEL}")
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            for notice in self._connection.notifies(timeout=0.2):
                self.heard.append((time.perf_counter_ns(), int(notice.payload)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._connection.close()

    def projected_at(self, position: int) -> int | None:
        for when, heard in list(self.heard):
            if heard >= position:
                return when
        return None


def probe_lag(
    topology: Topology, base: str, config: dict[str, int], *, loaded: bool
) -> tuple[list[int], int]:
    """Commit-to-projected samples (ns), under a write load or on an idle system, and how
    many were projected before the writer had its answer."""
    probe = "probe-load" if loaded else "probe-idle"
    status, _, answer = request(
        base + "/v1/specs", "POST", {"name": probe, "type": "generic", "content": "n: 0\n"}
    )
    assert status == 201, answer
    host, port = base.removeprefix("http://").rsplit(":", 1)
    listener = Announcements(topology.database_url)
    acknowledged: list[tuple[int, int]] = []
    load = threading.Thread(
        target=wrk,
        args=(base, WRITE_LUA, config["specs"], config["seconds"], config["connections"]),
    )
    try:
        if loaded:
            load.start()
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        deadline = time.monotonic() + config["seconds"]
        n = 0
        while time.monotonic() < deadline:
            n += 1
            body = json.dumps({"content": f"n: {n}\n", "reason": "probe"})
            connection.request(
                "PUT", f"/v1/specs/{probe}/content", body, {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            raw = response.read()
            acked = time.perf_counter_ns()
            assert response.status == 200, raw
            acknowledged.append((acked, json.loads(raw)["position"]))
            time.sleep(0.02)
        connection.close()
        if loaded:
            load.join()
        last = max(position for _, position in acknowledged)
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while listener.projected_at(last) is None:  # the worker may still be behind
            assert time.monotonic() < deadline, f"position {last} not projected in time"
            time.sleep(0.05)
    finally:
        listener.close()
    samples, early = [], 0
    for acked, position in acknowledged:
        projected = listener.projected_at(position)
        assert projected is not None, f"position {position} was never announced"
        if projected <= acked:
            early += 1
        samples.append(max(0, projected - acked))
    return samples, early


def settle(topology: Topology) -> float:
    """Seconds until every instance's /readyz answers 200 (the worker has projected
    everything written so far)."""
    start = time.monotonic()
    for api in topology.apis:
        while request(api.rest + "/readyz")[0] != 200:
            assert time.monotonic() - start < DRAIN_TIMEOUT, "the worker did not catch up"
            time.sleep(0.05)
    return time.monotonic() - start


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    config = QUICK if args.quick else FULL
    admin_url = os.environ.get(ADMIN_URL_VARIABLE, DEFAULT_ADMIN_URL)
    database = scratch_database(admin_url, prefix="bench_scaled")
    with database as url, running_topology(url, apis=2, workers=1) as topology:
        a = topology.apis[0]
        one = topology.start_balancer([a.rest.removeprefix("http://")] * 2, [a.grpc] * 2)[0]
        balancers = {"1 instance": one, "2 instances": topology.rest}
        seed(topology.rest, config["specs"])
        settle(topology)
        totals: dict[tuple[str, str], dict[str, float]] = {}
        for round_ in range(config["rounds"]):
            order = list(balancers) if round_ % 2 == 0 else list(reversed(balancers))
            for kind, script in (("write", WRITE_LUA), ("read", READ_LUA)):
                for label in order:
                    got = wrk(
                        balancers[label],
                        script,
                        config["specs"],
                        config["seconds"],
                        config["connections"],
                    )
                    # Reads on an instance wait for its own last write to be projected:
                    # let the worker drain what the run wrote before the next run.
                    got["drain"] = settle(topology)
                    pooled = totals.setdefault((kind, label), dict.fromkeys(got, 0.0))
                    for key, value in got.items():
                        pooled[key] += value
        rows: list[list[Any]] = []
        for kind in ("write", "read"):
            single = totals[(kind, "1 instance")]
            for label in balancers:
                pooled = totals[(kind, label)]
                rate = (pooled["requests"] - pooled["non_2xx"]) / pooled["seconds"]
                base = (single["requests"] - single["non_2xx"]) / single["seconds"]
                rows.append(
                    [
                        kind,
                        label,
                        int(pooled["requests"]),
                        rate,
                        int(pooled["non_2xx"]),
                        int(pooled["socket_errors"]),
                        pooled["drain"],
                        f"{rate / base:.2f}x",
                    ]
                )
        print_table(
            f"Through HAProxy: {config['connections']} connections, {config['seconds']} s"
            f" x {config['rounds']} round(s) per row",
            ["op", "behind", "requests", "2xx/s", "non-2xx", "sock err", "drain s", "x 1 inst"],
            rows,
            left=2,
        )
        idle = probe_lag(topology, topology.rest, config, loaded=False)
        loaded = probe_lag(topology, topology.rest, config, loaded=True)
        idle_p50 = max(Stats(idle[0]).p50_us, 1.0)
        lag_rows: list[list[Any]] = []
        for label, (samples, early) in (("idle", idle), ("under write load", loaded)):
            stats = Stats(samples)
            lag_rows.append(
                [
                    label,
                    stats.n,
                    early,
                    stats.p50_us / 1000,
                    stats.p99_us / 1000,
                    stats.mean_us / 1000,
                    f"{stats.p50_us / idle_p50:.2f}x",
                ]
            )
        print_table(
            "Commit-to-projected through the 2-instance balancer (answer -> NOTIFY heard)",
            ["system", "probes", "before answer", "p50 ms", "p99 ms", "mean ms", "x idle"],
            lag_rows,
        )
        verify = topology.tool("verify", "--database-url", url)
        print(f"\nverify after the run: exit {verify.returncode}")
        return 0 if verify.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
