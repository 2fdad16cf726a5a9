"""``specsvc project``: the projection worker of a PostgreSQL store, with its health port."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from specsvc.cli.options import add_setting_options, settings_from
from specsvc.cli.serve import listen_address, show_host, shown_url
from specsvc.config import Settings
from specsvc.errors import ConfigurationError, SpecServiceError
from specsvc.observability import logs

logger = logging.getLogger("specsvc.project")


def add_project_command(commands: Any, options: Any) -> None:
    project = commands.add_parser(
        "project",
        help="run the projections of a PostgreSQL store (a second one stands by)",
        description="Keep the read models of a PostgreSQL store: catch up with what was"
        " written while no worker ran, then project each commit as it is announced. A"
        " second worker on the same store stands by and takes over when the first stops"
        " or dies. Every option also reads its environment variable.",
        epilog="example: specsvc project --database-url postgresql://specs@db:5432/specs"
        " --health-addr 0.0.0.0:9091",
        parents=[options],
    )
    add_setting_options(project, "project")
    project.set_defaults(handler=_project_command)


def _project_command(args: argparse.Namespace) -> int:
    return project(settings_from(args, "project"))


def project(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT; 0 after a clean shutdown."""
    logs.configure(settings.log_level, settings.log_format)
    from specsvc import bootstrap

    health = listen_address(settings.health_addr, "--health-addr") if settings.health_addr else None
    try:
        worker = bootstrap.start_worker(settings)
    except SpecServiceError:
        raise
    except Exception as error:
        raise ConfigurationError(
            f"--database-url {shown_url(settings.database_url or '')}: cannot open the store"
            f" ({(str(error).splitlines() or [type(error).__name__])[0]}); check the address"
            " and that the server is up"
        ) from None

    def stop(signum: int, frame: FrameType | None) -> None:
        worker.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    server = None
    try:
        if health is not None:
            server = _health_server(worker, health)
        logger.info("projection worker started")
        worker.run()
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        worker.close()
        logger.info("stopped")
    return 0


def _health_server(worker: Any, addr: tuple[str, int]) -> ThreadingHTTPServer:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from specsvc.observability.metrics import REGISTRY

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._send(200, "application/json", {"status": "ok"})
            elif self.path == "/readyz":
                self._ready()
            elif self.path == "/metrics":
                self._refresh()
                body = generate_latest(REGISTRY)
                self._send(200, CONTENT_TYPE_LATEST, body)
            else:
                self._send(404, "application/json", {"error": "not found"})

        def _ready(self) -> None:
            try:
                status: dict[str, Any] = dict(worker.status())
            except SpecServiceError as error:
                status = {
                    "state": worker.state,
                    "error": error.message,
                    "cache": worker.cache.status(),
                }
            ready = status.get("error") is None and status["state"] in ("active", "standby")
            body = {"status": "ready" if ready else "not ready", "worker": status}
            self._send(200 if ready else 503, "application/json", body)

        def _refresh(self) -> None:
            with contextlib.suppress(SpecServiceError):
                worker.status()  # sets the lag, health and cache gauges

        def _send(self, status: int, content_type: str, body: Any) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # probes every second would drown the log

    host, port = addr
    try:
        server = ThreadingHTTPServer((host, port), Health)
    except OSError as error:
        raise ConfigurationError(
            f"--health-addr: cannot listen on {show_host(host)}:{port}:"
            f" {error.strerror or error}; choose another address"
        ) from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="worker-health", daemon=True).start()
    logger.info("worker health listening on http://%s:%s", show_host(host), server.server_port)
    return server
