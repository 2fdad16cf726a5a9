"""``specsvc serve``: the application, its projections and the APIs in one process."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import os
import re
import signal
from types import FrameType
from typing import Any

from specsvc.cli.options import add_setting_options, settings_from
from specsvc.config import Settings
from specsvc.errors import ConfigurationError, StoreCorrupted
from specsvc.observability import logs

logger = logging.getLogger("specsvc.serve")

DEFAULT_REST_ADDR = "127.0.0.1:8080"
EXIT_REFUSED = 2
# The lines tests and tools wait for: the listener accepts connections from then on.
REST_LISTENING = "REST API listening on http://%s:%s"
GRPC_LISTENING = "gRPC API listening on %s:%s"


def add_serve_command(commands: Any, options: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the REST API, the application and its projections in one process",
        description="Run the REST API (and gRPC with --grpc-addr), the application and its"
        " projections in one process. Every option also reads its environment variable.",
        epilog="example: specsvc serve --db specs.db --rest-addr 127.0.0.1:8080",
        parents=[options],
    )
    add_setting_options(serve, "serve")
    # How a worker process of --workers N reaches the master that started it.
    serve.add_argument("--worker-link", type=int, default=None, help=argparse.SUPPRESS)
    serve.set_defaults(handler=_serve_command)


def _serve_command(args: argparse.Namespace) -> int:
    return serve(settings_from(args, "serve"), worker_link=args.worker_link)


def serve(settings: Settings, *, worker_link: int | None = None) -> int:
    """Run until SIGTERM or SIGINT; 0 after a clean shutdown. With more than one worker,
    this process is their master (``specsvc.cli.workers``); ``worker_link`` makes it one
    of the workers."""
    logs.configure(settings.log_level, settings.log_format)
    # Whatever was inherited (a shell's "&" leaves SIGINT ignored), both signals stop us.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    from specsvc.cli import workers

    if worker_link is None and workers.count(settings) > 1:
        return workers.supervise(settings, workers.count(settings))
    link = None if worker_link is None else workers.MasterLink(worker_link)
    from rest_api import create_app

    rest, grpc = listen_addresses(settings)
    authenticator = authenticate(settings, rest, grpc, warn=link is None)
    if authenticator is None:
        return EXIT_REFUSED
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda signum, frame: authenticator.reload_tokens())
    service = open_store(settings)
    grpc_server = None
    try:
        if grpc is not None:
            grpc_server = _start_grpc(service, authenticator, grpc, settings, link)
        app = create_app(service, authenticator, max_request_bytes=settings.max_request_bytes)
        return _run_rest(app, rest, settings, link)
    finally:
        if grpc_server is not None:
            grpc_server.stop()
        service.close()
        logger.info("stopped")


def listen_addresses(settings: Settings) -> tuple[tuple[str, int], tuple[str, int] | None]:
    """The REST listener's (host, port), and the gRPC one's or None."""
    rest = listen_address(settings.rest_addr or DEFAULT_REST_ADDR, "--rest-addr")
    grpc = listen_address(settings.grpc_addr, "--grpc-addr") if settings.grpc_addr else None
    return rest, grpc


def authenticate(
    settings: Settings, rest: tuple[str, int], grpc: tuple[str, int] | None, *, warn: bool = True
) -> Any | None:
    """The authenticator, or None (logged) when anonymous requests would be exposed;
    ``warn``: say that requests run as anonymous (a worker's master has said it)."""
    authenticator = load_authenticator(settings)
    exposed = [a[0] for a in (rest, grpc) if a is not None and not is_loopback(a[0])]
    if authenticator.anonymous and exposed:
        logger.error(
            "refusing to serve anonymous (unauthenticated) requests on %s: "
            "configure --auth-tokens-file or --jwt-key-file",
            ", ".join(exposed),
        )
        return None
    if authenticator.anonymous and warn:
        logger.warning(
            "no authentication configured: every request runs as 'anonymous' "
            "with every role (loopback only)"
        )
    return authenticator


def listen_address(addr: str, flag: str) -> tuple[str, int]:
    """``HOST:PORT`` as (host, port); ConfigurationError says how to write it."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigurationError(
            f"{flag} {addr!r} is not HOST:PORT; write it like 127.0.0.1:8080"
            " (port 0 picks a free one)"
        )
    return host.strip("[]") or "127.0.0.1", int(port)


def load_authenticator(settings: Settings) -> Any:
    """The configured authenticator; a file that cannot be used names its flag."""
    from specsvc.auth import Authenticator

    try:
        return Authenticator.from_settings(settings)
    except OSError as error:
        flag = _flag_of_file(settings, error.filename)
        raise ConfigurationError(
            f"{flag} {error.filename}: {error.strerror or error}; give the path of a readable file"
        ) from None
    except ValueError as error:
        raise ConfigurationError(f"{_first_line(error)}; fix the file or the key") from None


def open_store(settings: Settings) -> Any:
    """The started service; a store that cannot be opened is a one-line error."""
    from specsvc import bootstrap

    if settings.db is not None and not settings.database_url:
        folder = os.path.dirname(os.path.abspath(settings.db))
        if not os.path.isdir(folder):
            raise ConfigurationError(
                f"--db {settings.db}: the folder {folder} does not exist; create it or"
                " choose another path"
            )
    try:
        return bootstrap.start(settings, bootstrap.Role.API).service
    except ValueError as error:  # a spec types folder or plugin that cannot be loaded
        raise ConfigurationError(_first_line(error)) from None
    except Exception as error:
        if isinstance(error, (ConfigurationError, StoreCorrupted)):
            raise
        if settings.database_url:
            raise ConfigurationError(
                f"--database-url {shown_url(settings.database_url)}: cannot open the store"
                f" ({_first_line(error)}); check the address and that the server is up"
            ) from None
        raise ConfigurationError(
            f"--db {settings.db}: cannot open the store ({_first_line(error)}); check the"
            " path and its permissions"
        ) from None


def _start_grpc(
    service: Any, authenticator: Any, addr: tuple[str, int], settings: Settings, link: Any
) -> Any:
    from grpc_api import create_server

    host, port = addr
    try:
        server = create_server(
            service,
            f"{show_host(host)}:{port}",
            authenticator,
            threads=settings.threads,
            max_watchers=settings.max_watchers,
            max_watchers_per_principal=settings.max_watchers_per_principal,
        )
    except (OSError, RuntimeError):
        raise cannot_listen("--grpc-addr", host, port) from None
    if link is None:  # a worker's master says it, once all its workers listen
        logger.info(GRPC_LISTENING, show_host(host), server.port)
    return server


def _run_rest(app: Any, addr: tuple[str, int], settings: Settings, link: Any) -> int:
    from rest_api.server import Limits, create_server

    host, port = addr
    limits = Limits(
        threads=settings.threads,
        max_connections=settings.max_connections,
        header_timeout=settings.request_header_timeout,
        body_timeout=settings.request_body_timeout,
        max_body_bytes=4 * settings.max_request_bytes,
    )
    try:
        server = create_server(app, host, port, limits, shared=link is not None)
    except OSError as error:
        raise cannot_listen("--rest-addr", host, port, error) from None
    if link is None:
        bound_port = getattr(server, "effective_port", port)
        logger.info(REST_LISTENING, show_host(host), bound_port)
    else:
        link.ready()
    server.run()  # returns after SIGTERM/SIGINT, once in-flight requests have finished
    return 0


def cannot_listen(flag: str, host: str, port: int, error: OSError | None = None) -> Exception:
    where = f"{show_host(host)}:{port}"
    if error is None or error.errno == errno.EADDRINUSE:
        reason = "the address is in use or not available"
    else:
        reason = error.strerror or str(error)
    return ConfigurationError(
        f"{flag}: cannot listen on {where}: {reason}; stop whatever holds it or choose"
        " another address"
    )


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _flag_of_file(settings: Settings, filename: Any) -> str:
    if filename and filename == settings.jwt_key_file:
        return "--jwt-key-file"
    return "--auth-tokens-file"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def shown_url(url: str) -> str:
    """A database address without its password."""
    return re.sub(r"://([^:@/]+):[^@/]*@", r"://\1:***@", url)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def show_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
