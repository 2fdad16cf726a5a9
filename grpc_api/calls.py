"""Per-call context: metadata -> principal and correlation id, default-deny authorisation.

A server interceptor wraps every SpecService handler: it authenticates, authorises the
RPC's action, and maps application errors to rich statuses in one place. An RPC of the
service with no entry in ACTIONS is denied, so a new RPC is closed until it is classified.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc

from grpc_api.errors import rich_status, status_of
from specsvc.auth import Authenticator, Principal, authorize
from specsvc.errors import BadRequest, PayloadTooLarge, PermissionDenied, SpecServiceError
from specsvc.observability.ids import new_correlation_id
from specsvc.observability.metrics import COMMANDS, bounded, observe_request
from specsvc.service.consistency import parse_min_position
from specsvc.service.slots import Slots

logger = logging.getLogger(__name__)

SERVICE = "specsvc.v1.SpecService"
CORRELATION_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
COMMAND_RPCS = {"CreateSpec", "UpdateSpec", "PublishSpec", "DeprecateSpec", "DeleteSpec"}
ACTIONS: dict[str, str] = {
    "CreateSpec": "create",
    "UpdateSpec": "update",
    "PublishSpec": "publish",
    "DeprecateSpec": "deprecate",
    "DeleteSpec": "delete",
    **{
        rpc: "read"
        for rpc in (
            "GetSpec",
            "GetPublishedSpec",
            "ListSpecs",
            "ListVersions",
            "GetVersion",
            "GetHistory",
            "DiffVersions",
            "ValidateSpec",
            "EvaluateSpec",
            "ListEvents",
            "WatchEvents",
            "ListTypes",
        )
    },
}


@dataclass(frozen=True)
class Call:
    principal: Principal
    correlation_id: str
    idempotency_key: str | None = None
    min_position: int | None = None


_current: contextvars.ContextVar[Call] = contextvars.ContextVar("specsvc_call")


def current_call() -> Call:
    return _current.get()


class AuthInterceptor(grpc.ServerInterceptor):
    """Authentication, authorisation, admission and errors around every SpecService RPC.

    ``unary_slots`` unary calls run at once; past that a call is refused at once with
    Unavailable, so a burst never queues behind the pool, and watchers (which hold
    threads of their own) can never take the unary calls' capacity. Requests over
    ``max_request_bytes`` are PayloadTooLarge.
    """

    def __init__(
        self,
        authenticator: Authenticator,
        *,
        unary_slots: int = 16,
        max_request_bytes: int | None = None,
    ):
        self._authenticator = authenticator
        self._unary = Slots(unary_slots, "calls")
        self._max_request_bytes = max_request_bytes
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    def intercept_service(
        self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails
    ) -> Any:
        # grpc runs this on its one thread that takes every call in, so it does no more
        # than a lookup: each RPC's wrapped handler is built once, on its first call,
        # and the call's metadata is read by the handler, on the call's own thread.
        wrapped = self._wrapped.get(details.method)
        if wrapped is not None:
            return wrapped
        handler = continuation(details)
        service, _, rpc = details.method.lstrip("/").partition("/")
        if service != SERVICE or handler is None:
            return handler  # health, reflection, or UNIMPLEMENTED for unknown methods
        wrapped = self._wrap(handler, rpc)
        self._wrapped[details.method] = wrapped  # one per RPC of the service: bounded
        return wrapped

    def _wrap(self, handler: grpc.RpcMethodHandler, rpc: str) -> grpc.RpcMethodHandler:
        decode = _tolerant(handler.request_deserializer, self._max_request_bytes)
        if handler.unary_stream:
            behaviour = self._streaming(handler.unary_stream, rpc)
            return grpc.unary_stream_rpc_method_handler(
                behaviour, decode, handler.response_serializer
            )
        behaviour = self._unary_call(handler.unary_unary, rpc)
        return grpc.unary_unary_rpc_method_handler(behaviour, decode, handler.response_serializer)

    def _begin(self, rpc: str, metadata: dict[str, Any], request: Any, correlation_id: str) -> Call:
        if isinstance(request, Undecodable):
            raise request.error
        principal = self._authenticator.authenticate(metadata.get("authorization"))
        action = ACTIONS.get(rpc)
        if action is None:
            raise PermissionDenied(f"{rpc} is not open to anyone", details={"rpc": rpc})
        authorize(principal, action)
        key = metadata.get("idempotency-key")
        raw = metadata.get("x-min-position")
        position = parse_min_position(None if raw is None else str(raw), "x-min-position")
        return Call(principal, correlation_id, None if key is None else str(key), position)

    @contextmanager
    def _scope(self, rpc: str, request: Any, context: Any) -> Iterator[None]:
        """Everything around one RPC: who, which correlation id, errors, metrics, log."""
        started, outcome = time.perf_counter(), "OK"
        metadata = dict(context.invocation_metadata())
        given = metadata.get("x-correlation-id")
        valid = given is not None and CORRELATION_ID.fullmatch(str(given)) is not None
        correlation_id = str(given) if valid else new_correlation_id()
        actor = None
        try:
            if given is not None and not valid:
                raise BadRequest("x-correlation-id must be 1-128 visible ASCII characters")
            current = self._begin(rpc, metadata, request, correlation_id)
            actor = current.principal.name
            context.send_initial_metadata((("x-correlation-id", correlation_id),))
            token = _current.set(current)
            try:
                yield
            finally:
                _current.reset(token)
        except SpecServiceError as error:
            outcome = error.code
            context.abort_with_status(status_of(error, correlation_id))
        except Exception:
            if context.code() is not None:  # an abort already chose the status
                raise
            outcome = "Internal"
            logger.exception("unhandled error in %s", rpc)
            context.abort_with_status(rich_status("Internal", "internal error", {}))
        finally:
            _observe(rpc, outcome, started, correlation_id, actor)

    def _unary_call(self, behaviour: Any, rpc: str) -> Any:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            with self._scope(rpc, request, context), self._unary.slot():
                return behaviour(request, context)

        return call

    def _streaming(self, behaviour: Any, rpc: str) -> Any:
        def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            with self._scope(rpc, request, context):
                yield from behaviour(request, context)

        return call


class Undecodable:
    """Stands in for a request that was not decoded, so the RPC can answer why."""

    def __init__(self, error: SpecServiceError):
        self.error = error


def _tolerant(
    deserializer: Callable[[bytes], Any] | None, max_bytes: int | None
) -> Callable[[bytes], Any]:
    # grpc answers INTERNAL when a deserializer raises; this service answers with its own
    # error, after the call's correlation id and before authentication.
    def decode(raw: bytes) -> Any:
        if max_bytes is not None and len(raw) > max_bytes:
            return Undecodable(
                PayloadTooLarge(
                    f"the request is {len(raw)} bytes, over the limit of {max_bytes}",
                    details={"limit": max_bytes, "size": len(raw)},
                )
            )
        try:
            return deserializer(raw) if deserializer else raw
        except Exception as error:
            reason = type(error).__name__
            return Undecodable(BadRequest(f"the request message cannot be decoded: {reason}"))

    return decode


def _observe(
    rpc: str, outcome: str, started: float, correlation_id: str, actor: str | None
) -> None:
    seconds = time.perf_counter() - started
    observe_request("grpc", bounded(rpc, ACTIONS), "", outcome, seconds)
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            "rpc",
            extra={
                "api": "grpc",
                "rpc": rpc,
                "status": outcome,
                "duration_ms": round(seconds * 1000, 3),
                "correlation_id": correlation_id,
                "actor": actor,
            },
        )
    if rpc in COMMAND_RPCS:
        command = rpc.removesuffix("Spec").lower()
        COMMANDS.labels(command, "ok" if outcome == "OK" else outcome).inc()
