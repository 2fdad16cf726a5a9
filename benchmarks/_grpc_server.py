"""A gRPC server process for bench_grpc: ``python -m benchmarks._grpc_server APP DB``.

APP is ``spec`` (the Spec Service gRPC server over a seeded SQLite file) or ``bare`` (one
grpcio method on raw bytes: the same library's cost floor). Prints the port.

The bare method ``/bench.Bare/Call`` answers a request whose first 4 bytes (little
endian) give the reply's length, so the client can mirror the sizes of real messages.
"""

from __future__ import annotations

import sys
from concurrent import futures
from typing import Any

import grpc

from benchmarks._common import ACTOR, yaml_content

THREADS = 16  # as `specsvc serve` (--threads): one per client of the load
SEEDED = 50
SPEC_BYTES = 1500
WATCHED = "watched"
BARE_METHOD = "/bench.Bare/Call"


def bare_reply(request: bytes, context: Any) -> bytes:
    return bytes(int.from_bytes(request[:4], "little"))


def bare_server() -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=THREADS))
    # No (de)serialisers: the handler takes and returns raw bytes, so no proto is needed.
    handler = grpc.unary_unary_rpc_method_handler(bare_reply)
    service, _, method = BARE_METHOD.strip("/").partition("/")
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service, {method: handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def seed(service: Any) -> None:
    """The specs the gRPC cases read and write."""
    for n in range(SEEDED):
        service.create_spec(f"spec-{n}", "generic", yaml_content(n, SPEC_BYTES), actor=ACTOR)
        service.publish_spec(f"spec-{n}", actor=ACTOR, reason="seed")
    service.create_spec(WATCHED, "generic", yaml_content(-1, SPEC_BYTES), actor=ACTOR)


def spec_server(db: str) -> tuple[grpc.Server, int]:
    from grpc_api import create_server
    from specsvc import SpecService
    from specsvc.config import Settings

    service = SpecService.open(settings=Settings(db=db))
    seed(service)
    running = create_server(service, "127.0.0.1:0", threads=THREADS)
    return running.server, running.port


if __name__ == "__main__":
    app_name, db_path = sys.argv[1:3]
    grpc_server, bound = bare_server() if app_name == "bare" else spec_server(db_path)
    print(bound, flush=True)
    grpc_server.wait_for_termination()
