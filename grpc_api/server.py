"""``create_server``: the gRPC server with the servicer, health and reflection."""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from grpc_api.calls import SERVICE, AuthInterceptor
from grpc_api.protos.specsvc.v1 import spec_service_pb2, spec_service_pb2_grpc
from grpc_api.reflection import enable_reflection
from grpc_api.servicer import SpecServicer
from grpc_api.watch import Broadcaster
from specsvc import SpecService
from specsvc.auth import Authenticator
from specsvc.errors import SpecServiceError

HEALTH_CHECK_SECONDS = 1.0
MAX_WATCHERS = 128
MAX_WATCHERS_PER_PRINCIPAL = 16
REFUSING_THREADS = 16
RECEIVE_CAP = 4 * 1024 * 1024
# Room for a spec's content after protobuf framing and the other fields of a request.
MESSAGE_OVERHEAD = 16 * 1024


@dataclass
class GrpcServer:
    server: grpc.Server
    port: int
    broadcaster: Broadcaster
    _stopping: threading.Event
    _health_thread: threading.Thread

    def stop(self, grace: float = 5.0) -> None:
        self._stopping.set()
        self.broadcaster.stop()
        self.server.stop(grace).wait()
        self._health_thread.join(timeout=5)


def create_server(
    service: SpecService,
    address: str,
    authenticator: Authenticator | None = None,
    *,
    threads: int = 16,
    max_watchers: int = MAX_WATCHERS,
    max_watchers_per_principal: int = MAX_WATCHERS_PER_PRINCIPAL,
) -> GrpcServer:
    """Bind ``address`` (port 0 picks one) and start serving; ``.port`` is the bound port."""
    max_message = 4 * service.settings.max_spec_bytes + MESSAGE_OVERHEAD
    interceptor = AuthInterceptor(
        authenticator or Authenticator(None, None),
        unary_slots=threads,
        max_request_bytes=max_message,
    )
    server = grpc.server(
        # Each watcher holds a thread while it waits on its queue (it never polls); unary
        # calls have ``threads`` of their own, and the rest answer refused calls at once.
        # grpc's own limit stays off: it would refuse without the error details.
        futures.ThreadPoolExecutor(max_workers=threads + max_watchers + REFUSING_THREADS),
        interceptors=[interceptor],
        maximum_concurrent_rpcs=None,
        options=[
            # Up to grpc's default, a request too large is answered PayloadTooLarge by the
            # interceptor; past it grpc refuses it before anything here reads it.
            ("grpc.max_receive_message_length", RECEIVE_CAP),
            ("grpc.keepalive_time_ms", 60_000),
            ("grpc.keepalive_timeout_ms", 20_000),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ("grpc.max_connection_idle_ms", 30 * 60_000),
        ],
    )
    broadcaster = Broadcaster(service, max_watchers, max_watchers_per_principal)
    try:
        spec_service_pb2_grpc.add_SpecServiceServicer_to_server(
            SpecServicer(service, broadcaster), server
        )
        health_servicer = health.HealthServicer(experimental_non_blocking=True)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        names = (
            spec_service_pb2.DESCRIPTOR.services_by_name["SpecService"].full_name,
            health.SERVICE_NAME,
        )
        enable_reflection(server, names)
        port = server.add_insecure_port(address)
        if port == 0:
            raise OSError(f"cannot listen on {address}")
    except BaseException:
        # Its thread reads the store: it must not outlive a server that never started,
        # or it reads the store as its caller closes it.
        broadcaster.stop()
        raise
    stopping = threading.Event()
    checker = threading.Thread(
        target=_keep_health, args=(service, health_servicer, stopping), daemon=True
    )
    _set_health(service, health_servicer)
    server.start()
    checker.start()
    return GrpcServer(server, port, broadcaster, stopping, checker)


def _keep_health(
    service: SpecService, servicer: health.HealthServicer, stopping: threading.Event
) -> None:
    while not stopping.wait(HEALTH_CHECK_SECONDS):
        _set_health(service, servicer)


def _set_health(service: SpecService, servicer: health.HealthServicer) -> None:
    try:
        ready = service.projection_status()["caught_up"]
    except SpecServiceError:
        ready = False
    ready = ready and service.store_status()["state"] == "ok"
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if ready
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in ("", SERVICE):
        servicer.set(name, status)
