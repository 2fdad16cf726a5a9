"""``create_server``: the REST app on waitress, extended to stand hostile clients.

Waitress is extended by subclassing, where it has no setting for what is needed:
- a request must finish its headers within ``header_timeout`` and its body within
  ``body_timeout`` of its first byte, so slow clients cannot hold connections for ever
  (waitress only closes connections idle between requests);
- the errors waitress answers itself (a malformed request line, headers or a body
  over its limits) carry the same JSON error body and correlation id as the app's.
"""

from __future__ import annotations

import json
import resource
import socket
import time
from dataclasses import dataclass
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask

from specsvc.observability.ids import new_correlation_id

# waitress's error statuses and the error codes they stand for (docs/behaviour.md, Errors).
WAITRESS_CODES = {400: "BadRequest", 413: "PayloadTooLarge", 431: "BadRequest", 501: "BadRequest"}


@dataclass(frozen=True)
class Limits:
    """How much of the server one client may hold, and for how long."""

    threads: int = 16
    max_connections: int = 2000
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 120.0
    max_body_bytes: int = 4 * 65536


class ShapedErrorTask(ErrorTask):
    """waitress's own error answers, in the service's JSON error shape."""

    def execute(self) -> None:
        error: Any = getattr(self.request, "error", None)
        correlation_id = new_correlation_id()
        body = json.dumps(
            {
                "error": {
                    "code": WAITRESS_CODES.get(error.code, "BadRequest"),
                    "message": f"{error.reason}: {error.body}",
                    "details": {},
                },
                "correlation_id": correlation_id,
            }
        ).encode()
        self.status = f"{error.code} {error.reason}"
        headers: Any = self.response_headers
        headers.extend([("Content-Type", "application/json"), ("X-Correlation-ID", correlation_id)])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class GuardedChannel(HTTPChannel):
    error_task_class = ShapedErrorTask
    request_started = 0.0

    def received(self, data: bytes) -> bool:
        if self.request is None:
            self.request_started = time.time()
        return bool(super().received(data))


class GuardedServer(TcpWSGIServer):
    channel_class = GuardedChannel
    header_timeout = Limits.header_timeout
    body_timeout = Limits.body_timeout

    def maintenance(self, now: Any) -> None:
        super().maintenance(now)  # connections idle between requests
        channels: dict[Any, Any] = self.active_channels  # type: ignore[assignment]
        for channel in list(channels.values()):
            request = channel.request
            if request is None or channel.will_close:
                continue
            limit = self.body_timeout if request.headers_finished else self.header_timeout
            if now - channel.request_started > limit:
                channel.will_close = True  # the event loop closes it


def create_server(
    app: Any, host: str, port: int, limits: Limits, *, shared: bool = False
) -> GuardedServer:
    """Bind ``host:port`` (port 0 picks one); ``.effective_port`` is the bound port.

    ``shared``: the socket is bound with SO_REUSEPORT, beside the other processes of
    ``specsvc serve --workers`` on the same port; the kernel spreads connections over them.
    """
    raise_open_files_limit(limits.max_connections + limits.threads + 64)
    adjustments = Adjustments(
        host=host,
        port=port,
        threads=limits.threads,
        ident="specsvc",
        connection_limit=limits.max_connections,
        channel_timeout=limits.idle_timeout,
        cleanup_interval=1,  # how often the timeouts above are checked, in seconds
        asyncore_use_poll=True,  # select() cannot watch more than 1,024 sockets
        # Waitress stops bodies over this before buffering them; the app answers 413 for
        # anything over its own, smaller limit.
        max_request_body_size=limits.max_body_bytes,
        clear_untrusted_proxy_headers=True,
    )
    if shared:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )[0]
        sock = shared_socket(family, address)
        server = GuardedServer(
            app,
            _sock=sock,
            adj=adjustments,
            bind_socket=False,
            sockinfo=(family, kind, proto, sock.getsockname()),
        )
    else:
        server = GuardedServer(app, adj=adjustments)
    server.header_timeout = limits.header_timeout
    server.body_timeout = limits.body_timeout
    return server


def shared_socket(family: int, address: Any) -> socket.socket:
    """A TCP socket bound to ``address`` with SO_REUSEPORT (not yet listening)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def raise_open_files_limit(wanted: int) -> None:
    """Let the process hold ``wanted`` sockets, as far as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
