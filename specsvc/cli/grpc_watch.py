"""``specsvc watch --grpc-url``: follow the live ``WatchEvents`` stream, reconnecting.

Events come as the dicts of the REST API (same names, positions and versions as
integers, RFC 3339 timestamps), so both modes print the same lines. When the stream
ends (the server stopped, the watcher fell behind, the connection dropped) the watch
reconnects with ``after`` = the last position handed out: nothing is missed or
repeated. Any other failure raises the ``specsvc.errors`` error the status names.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Generator
from datetime import UTC
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from grpc_api.protos.specsvc.v1 import spec_service_pb2_grpc
from specsvc.errors import SpecServiceError

Events = Generator[dict[str, Any], None, None]

CALL_TIMEOUT = 30.0
FIRST_BACKOFF, MAX_BACKOFF = 0.2, 5.0
# The channel's own reconnect delays stay within the watch's backoff.
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 5000),
]
RECONNECT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
# Error codes for statuses without ErrorInfo: transport failures, or not this service.
CODE_OF_STATUS = {
    "UNAVAILABLE": "Unavailable",
    "UNAUTHENTICATED": "Unauthenticated",
    "PERMISSION_DENIED": "PermissionDenied",
    "INVALID_ARGUMENT": "BadRequest",
    "NOT_FOUND": "NotFound",
}


def follow(
    target: str, token: str | None, *, after: int | None, names: list[str], types: list[str]
) -> Events:
    """Matching events after ``after`` (None: from now), then live, until closed."""
    metadata = [("authorization", f"Bearer {token}")] if token else []
    with grpc.insecure_channel(target, options=CHANNEL_OPTIONS) as channel:
        stub = spec_service_pb2_grpc.SpecServiceStub(channel)
        reached = after is None  # finding the end of the log reaches the server
        if after is None:
            try:
                after = _log_end(stub, metadata)
            except grpc.RpcError as error:
                raise _error(error, target) from None
        request = pb.WatchEventsRequest(names=names, types=types)
        yield from _stream(stub, metadata, request, after, target, reached)


def _stream(
    stub: Any, metadata: list[tuple[str, str]], request: Any, last: int, target: str, reached: bool
) -> Events:
    """Reconnects when an open stream is lost; a server never reached is an error."""
    backoff = FIRST_BACKOFF
    while True:
        request.after = last
        call = stub.WatchEvents(request, metadata=metadata)  # no deadline: it stays open
        try:
            # The server sends initial metadata once the call is accepted.
            connected = bool(call.initial_metadata())
            reached = reached or connected
            for message in call:
                if message.position > last:
                    last = message.position
                    backoff = FIRST_BACKOFF
                    yield event_dict(message)
            why = "the server ended the stream"
        except grpc.RpcError as error:
            if error.code() not in RECONNECT or not reached:
                raise _error(error, target) from None
            why = f"{error.code().name}: {error.details()}"
        finally:
            call.cancel()
        if connected:
            print(f"watch: {why}; reconnecting after position {last}", file=sys.stderr, flush=True)
        time.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF)


def _log_end(stub: Any, metadata: list[tuple[str, str]]) -> int:
    """The last position of the log, in a few probes (doubling, then halving)."""

    def first_after(position: int) -> int | None:
        request = pb.ListEventsRequest(after=position, limit=1)
        events = stub.ListEvents(request, metadata=metadata, timeout=CALL_TIMEOUT).events
        return int(events[0].position) if events else None

    low, high = 0, 1  # the end is at least low (an existing position, or 0)
    while (found := first_after(high)) is not None:
        low, high = found, 2 * found
    while low < high:  # the end lies in [low, high]
        middle = (low + high) // 2
        found = first_after(middle)
        low, high = (found, high) if found is not None else (low, middle)
    return low


def event_dict(message: Any) -> dict[str, Any]:
    """An ``Event`` as the REST API shows it: every field, unset ones as None."""
    event: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        if field.has_presence and not message.HasField(field.name):
            event[field.name] = None
        elif field.name == "timestamp":
            moment = message.timestamp.ToDatetime(tzinfo=UTC)
            event[field.name] = moment.isoformat().replace("+00:00", "Z")
        else:
            event[field.name] = getattr(message, field.name)
    return event


def _error(error: grpc.RpcError, target: str) -> SpecServiceError:
    """The error a status stands for: the ErrorInfo reason, else one from the status code."""
    reason = _reason(error)
    message = error.details() or error.code().name
    if reason is None:
        reason = CODE_OF_STATUS.get(error.code().name, "Internal")
        if reason == "Unavailable":
            message = f"cannot reach {target}: {message}"
    failure = SpecServiceError(message)
    failure.code = reason
    return failure


def _reason(error: grpc.RpcError) -> str | None:
    status = rpc_status.from_call(error)  # None when the status has no rich details
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    return None
