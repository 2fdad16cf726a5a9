"""``specsvc serve``: the application, its projections and the APIs in one process."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
from dataclasses import replace
from types import FrameType
from typing import Any

from specsvc.config import Settings
from specsvc.observability import logs

logger = logging.getLogger("specsvc.serve")

DEFAULT_REST_ADDR = "127.0.0.1:8080"
# Commits made by other processes (operator tools, a second instance) reach the read models.
DEFAULT_POLL_INTERVAL = 1.0
EXIT_REFUSED = 2


def add_serve_command(commands: Any) -> None:
    env = Settings.from_env()
    serve = commands.add_parser(
        "serve",
        help="run the REST API, the application and its projections in one process",
        epilog="example: specsvc serve --db specs.db --rest-addr 127.0.0.1:8080",
    )
    serve.add_argument("--db", default=env.db or "specs.db", help="SQLite file (SPECSVC_DB)")
    serve.add_argument(
        "--rest-addr",
        default=env.rest_addr or DEFAULT_REST_ADDR,
        help="HOST:PORT for REST (SPECSVC_REST_ADDR); port 0 picks a free one",
    )
    serve.add_argument(
        "--grpc-addr",
        default=env.grpc_addr,
        help="HOST:PORT for gRPC (SPECSVC_GRPC_ADDR); off unless given",
    )
    serve.add_argument(
        "--auth-tokens-file",
        default=env.auth_tokens_file,
        help="YAML file of token digests (SPECSVC_AUTH_TOKENS_FILE)",
    )
    serve.add_argument(
        "--jwt-key-file",
        default=env.jwt_key_file,
        help="HS256 secret or RS256 public key file (SPECSVC_JWT_KEY_FILE)",
    )
    serve.add_argument("--jwt-algorithm", default=env.jwt_algorithm, choices=["HS256", "RS256"])
    serve.add_argument("--jwt-issuer", default=env.jwt_issuer)
    serve.add_argument("--jwt-audience", default=env.jwt_audience)
    serve.add_argument("--four-eyes", action=argparse.BooleanOptionalAction, default=env.four_eyes)
    serve.add_argument("--max-spec-bytes", type=int, default=env.max_spec_bytes)
    serve.add_argument("--max-request-bytes", type=int, default=env.max_request_bytes)
    serve.add_argument("--types-dir", default=env.types_dir)
    serve.add_argument("--threads", type=int, default=env.threads)
    serve.add_argument("--sqlite-lock-timeout", type=int, default=env.sqlite_lock_timeout)
    serve.add_argument(
        "--projection-poll-interval",
        type=float,
        default=env.projection_poll_interval or DEFAULT_POLL_INTERVAL,
    )
    serve.add_argument("--log-level", default=env.log_level, help="SPECSVC_LOG_LEVEL")
    serve.add_argument(
        "--log-format",
        default=env.log_format,
        choices=["auto", "json", "text"],
        help="json lines, readable text, or auto: text on a terminal (SPECSVC_LOG_FORMAT)",
    )
    serve.set_defaults(handler=_serve_command, env_settings=env)


def _serve_command(args: argparse.Namespace) -> int:
    fields = {f: getattr(args, f) for f in vars(args) if f in Settings.__dataclass_fields__}
    return serve(replace(args.env_settings, **fields))


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
