"""gRPC client load for bench_perf, in a process of its own:
``python -m benchmarks._grpc_load SPEC_PORT BARE_PORT REQUESTS CLIENTS``.

Runs bench_grpc's unary cases (a bare grpcio method with the real messages' sizes, then
GetPublishedSpec; the same for UpdateSpec) once each, and prints one JSON list of
{label, n, ops_per_s, p50_us, p99_us}.
"""

from __future__ import annotations

import json
import sys

from benchmarks.bench_grpc import unary

if __name__ == "__main__":
    spec_port, bare_port, requests, clients = map(int, sys.argv[1:5])
    config = {"requests": requests, "clients": clients, "rounds": 1}
    results = unary({"spec": spec_port, "bare": bare_port}, config)
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
