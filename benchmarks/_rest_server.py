"""A REST server process for bench_rest: ``python -m benchmarks._rest_server SERVER APP DB``.

SERVER is waitress or cheroot; APP is ``spec`` (the Flask app over SpecService, seeded)
or ``bare`` (a trivial WSGI app: the same server's cost floor). Prints the port.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from benchmarks._common import ACTOR, yaml_content

THREADS = 8
SEEDED = 50


def bare_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = b'{"status": "ok"}'
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "16")])
    return [body]


def spec_app(db: str) -> Any:
    from rest_api import create_app
    from specsvc import SpecService
    from specsvc.config import Settings

    service = SpecService.open(settings=Settings(db=db))
    for n in range(SEEDED):
        service.create_spec(f"spec-{n}", "generic", yaml_content(n, 1500), actor=ACTOR)
        service.publish_spec(f"spec-{n}", actor=ACTOR, reason="seed")
    return create_app(service)


def serve(server: str, app: Any) -> None:
    if server == "waitress":
        from waitress.server import create_server

        wsgi = create_server(app, host="127.0.0.1", port=0, threads=THREADS)
        print(wsgi.effective_port, flush=True)  # type: ignore[union-attr]
        wsgi.run()
    else:
        from cheroot.wsgi import Server

        cheroot = Server(("127.0.0.1", 0), app, numthreads=THREADS)
        cheroot.prepare()
        print(cheroot.bind_addr[1], flush=True)
        cheroot.serve()


if __name__ == "__main__":
    server_name, app_name, db_path = sys.argv[1:4]
    serve(server_name, bare_app if app_name == "bare" else spec_app(db_path))
