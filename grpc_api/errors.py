"""One table from error code to gRPC status, sent as rich status: ErrorInfo first, and
for a ValidationError a google.rpc.BadRequest listing its problems."""

from __future__ import annotations

import json
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from specsvc.errors import SpecServiceError, ValidationError

DOMAIN = "specsvc"
# The status travels base64 in one trailer, under gRPC's default 8 KiB metadata limit
# (a client refuses more); the ErrorInfo may take 4 KiB of it, the violations 1 KiB.
MAX_VIOLATIONS_BYTES = 1024

GRPC_STATUS: dict[str, grpc.StatusCode] = {
    "BadRequest": grpc.StatusCode.INVALID_ARGUMENT,
    "Unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
    "PermissionDenied": grpc.StatusCode.PERMISSION_DENIED,
    "SeparationOfDuties": grpc.StatusCode.PERMISSION_DENIED,
    "SpecNotFound": grpc.StatusCode.NOT_FOUND,
    "SpecNotPublished": grpc.StatusCode.NOT_FOUND,
    "VersionNotFound": grpc.StatusCode.NOT_FOUND,
    "TypeNotFound": grpc.StatusCode.NOT_FOUND,
    "SpecAlreadyExists": grpc.StatusCode.ALREADY_EXISTS,
    "InvalidStateTransition": grpc.StatusCode.FAILED_PRECONDITION,
    "VersionMismatch": grpc.StatusCode.ABORTED,
    "SpecDeleted": grpc.StatusCode.NOT_FOUND,
    "PreconditionFailed": grpc.StatusCode.FAILED_PRECONDITION,
    "PayloadTooLarge": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "UnsupportedMediaType": grpc.StatusCode.INVALID_ARGUMENT,
    "ValidationError": grpc.StatusCode.INVALID_ARGUMENT,
    "IdempotencyKeyReused": grpc.StatusCode.INVALID_ARGUMENT,
    "Unavailable": grpc.StatusCode.UNAVAILABLE,
    "StoreCorrupted": grpc.StatusCode.DATA_LOSS,
    "Internal": grpc.StatusCode.INTERNAL,
}


def rich_status(code: str, message: str, metadata: dict[str, str], *more: Message) -> grpc.Status:
    """The gRPC status for an error code: first an ErrorInfo carrying the code as
    ``reason`` (clients read details[0]), then ``more`` details."""
    info = error_details_pb2.ErrorInfo(reason=code, domain=DOMAIN, metadata=metadata)
    status = status_pb2.Status(
        code=getattr(code_pb2, GRPC_STATUS[code].name),
        message=message,
        details=[_packed(detail) for detail in (info, *more)],
    )
    return rpc_status.to_status(status)


def status_of(error: SpecServiceError, correlation_id: str) -> grpc.Status:
    # ErrorInfo metadata is string to string: problems and details travel as text.
    metadata = {"correlation_id": correlation_id}
    for key, value in error.details.items():
        metadata[key] = value if isinstance(value, str) else _text(value)
    more = [_field_violations(error.errors)] if isinstance(error, ValidationError) else []
    return rich_status(error.code, error.message, metadata, *more)


def _field_violations(problems: list[dict[str, Any]]) -> error_details_pb2.BadRequest:
    """Validation problems as google.rpc.BadRequest, the detail gRPC clients know for them.

    Bounded: the last violation says how many problems did not fit.
    """
    detail = error_details_pb2.BadRequest()
    for index, problem in enumerate(problems):
        detail.field_violations.add(
            field=str(problem.get("path", "")), description=str(problem.get("message", ""))
        )
        if detail.ByteSize() > MAX_VIOLATIONS_BYTES:
            del detail.field_violations[-1]
            left = len(problems) - index
            detail.field_violations.add(description=f"{left} more problems not listed here")
            break
    return detail


def _packed(detail: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(detail)
    return packed


def _text(value: object) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))[:4000]
