"""A REST server process for bench_rest and bench_perf:
``python -m benchmarks._rest_server SERVER APP ARG``.

SERVER is waitress, cheroot or specsvc (the server ``specsvc serve`` runs:
``rest_api.server.create_server`` with its default limits). APP is ``spec`` (the Flask app
over SpecService, seeded; ARG the SQLite file), ``bare`` (a trivial WSGI app: the same
server's cost floor) or ``flask`` (a trivial Flask app whose every GET answers a JSON body
of ARG bytes). Prints the port.
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


def flask_app(size: int) -> Any:
    from flask import Flask

    app = Flask("bare")
    body = b'{"pad": "' + b"x" * max(0, size - 11) + b'"}'

    @app.get("/<path:anything>")
    def answer(anything: str) -> Any:
        return app.response_class(body, mimetype="application/json")

    return app


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
    elif server == "specsvc":
        from rest_api.server import Limits
        from rest_api.server import create_server as create_guarded_server

        guarded = create_guarded_server(app, "127.0.0.1", 0, Limits())
        print(guarded.effective_port, flush=True)  # type: ignore[attr-defined]
        guarded.run()
    else:
        from cheroot.wsgi import Server

        cheroot = Server(("127.0.0.1", 0), app, numthreads=THREADS)
        cheroot.prepare()
        print(cheroot.bind_addr[1], flush=True)
        cheroot.serve()


if __name__ == "__main__":
    server_name, app_name, argument = sys.argv[1:4]
    apps = {"bare": lambda: bare_app, "flask": lambda: flask_app(int(argument))}
    serve(server_name, apps.get(app_name, lambda: spec_app(argument))())
