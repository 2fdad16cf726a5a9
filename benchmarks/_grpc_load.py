"""gRPC client load for bench_perf, in a process of its own:
``python -m benchmarks._grpc_load SPEC_PORT BARE_PORT REQUESTS CLIENTS [WORKERS_PORT]``.

Runs bench_grpc's unary cases (a bare grpcio method with the real messages' sizes, then
GetPublishedSpec; the same for UpdateSpec) once each, and with WORKERS_PORT (``specsvc
serve --workers 2`` over a store seeded alike) UpdateSpec there, each client thread on a
connection of its own so that the kernel spreads them over the workers. Prints one JSON
list of {label, n, ops_per_s, p50_us, p99_us}.
"""

from __future__ import annotations

import json
import sys

from benchmarks._common import Stats
from benchmarks.bench_grpc import cases, load, unary

if __name__ == "__main__":
    spec_port, bare_port, requests, clients = map(int, sys.argv[1:5])
    config = {"requests": requests, "clients": clients, "rounds": 1}
    results = unary({"spec": spec_port, "bare": bare_port}, config)
    if len(sys.argv) > 5:
        workers_port = int(sys.argv[5])
        update = next(case for case in cases(workers_port) if case.label == "UpdateSpec")
        load(workers_port, min(50, requests), clients, update, own_connections=True)  # warm up
        taken, wall = load(workers_port, requests, clients, update, own_connections=True)
        stats = Stats(taken)
        stats.total_s = wall
        results.append(("UpdateSpec, workers", stats))
    print(
        json.dumps(
            [
                {
                    "label": label,
                    "n": s.n,
                    "ops_per_s": s.ops_per_s,
                    "p50_us": s.p50_us,
                    "p99_us": s.p99_us,
                }
                for label, s in results
            ]
        )
    )
