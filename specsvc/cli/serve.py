"""``specsvc serve``: the application, its projections and the APIs in one process."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
from types import FrameType
from typing import Any

from specsvc.cli.options import add_setting_options, settings_from
from specsvc.config import Settings
from specsvc.observability import logs

logger = logging.getLogger("specsvc.serve")

DEFAULT_REST_ADDR = "127.0.0.1:8080"
EXIT_REFUSED = 2


def add_serve_command(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the REST API, the application and its projections in one process",
        description="Run the REST API (and gRPC with --grpc-addr), the application and its"
        " projections in one process. Every option also reads its environment variable.",
        epilog="example: specsvc serve --db specs.db --rest-addr 127.0.0.1:8080",
    )
    add_setting_options(serve, "serve")
    serve.set_defaults(handler=_serve_command)


def _serve_command(args: argparse.Namespace) -> int:
    return serve(settings_from(args, "serve"))


def serve(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT; 0 after a clean shutdown."""
    logs.configure(settings.log_level, settings.log_format)
    from rest_api import create_app
    from specsvc import bootstrap
    from specsvc.auth import Authenticator

    host, port = split_addr(settings.rest_addr or DEFAULT_REST_ADDR)
    hosts = [host] + ([split_addr(settings.grpc_addr)[0]] if settings.grpc_addr else [])
    authenticator = Authenticator.from_settings(settings)
    exposed = [h for h in hosts if not is_loopback(h)]
    if authenticator.anonymous and exposed:
        logger.error(
            "refusing to serve anonymous (unauthenticated) requests on %s: "
            "configure --auth-tokens-file or --jwt-key-file",
            ", ".join(exposed),
        )
        return EXIT_REFUSED
    if authenticator.anonymous:
        logger.warning(
            "no authentication configured: every request runs as 'anonymous' "
            "with every role (loopback only)"
        )
    service = bootstrap.start(settings, bootstrap.Role.EMBEDDED).service
    grpc_server = None
    try:
        if settings.grpc_addr:
            grpc_server = _start_grpc(service, authenticator, settings)
        app = create_app(service, authenticator, max_request_bytes=settings.max_request_bytes)
        return _run_rest(app, host, port, settings)
    finally:
        if grpc_server is not None:
            grpc_server.stop()
        service.close()
        logger.info("stopped")


def _start_grpc(service: Any, authenticator: Any, settings: Settings) -> Any:
    from grpc_api import create_server

    host, port = split_addr(settings.grpc_addr or "")
    server = create_server(
        service, f"{_show(host)}:{port}", authenticator, threads=settings.threads
    )
    logger.info("gRPC API listening on %s:%s", _show(host), server.port)
    return server


def _run_rest(app: Any, host: str, port: int, settings: Settings) -> int:
    from waitress.server import create_server

    server = create_server(
        app,
        host=host,
        port=port,
        threads=settings.threads,
        ident="specsvc",
        # Waitress stops oversized bodies before buffering them; the app answers 413 in shape.
        max_request_body_size=4 * settings.max_request_bytes,
        clear_untrusted_proxy_headers=True,
    )
    signal.signal(signal.SIGTERM, _exit_cleanly)
    bound_port = getattr(server, "effective_port", port)  # one listener: a TcpWSGIServer
    logger.info("REST API listening on http://%s:%s", _show(host), bound_port)
    server.run()
    return 0


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def split_addr(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"address {addr!r} is not HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _show(host: str) -> str:
    return f"[{host}]" if ":" in host else host
