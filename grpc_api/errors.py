"""One table from error code to gRPC status, sent as rich status with ErrorInfo."""

from __future__ import annotations

import json

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from specsvc.errors import SpecServiceError

DOMAIN = "specsvc"

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
    "Unavailable": grpc.StatusCode.UNAVAILABLE,
    "Internal": grpc.StatusCode.INTERNAL,
}


def rich_status(code: str, message: str, metadata: dict[str, str]) -> grpc.Status:
    """The gRPC status for an error code, its ErrorInfo carrying the code as ``reason``."""
    info = error_details_pb2.ErrorInfo(reason=code, domain=DOMAIN, metadata=metadata)
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(
        code=getattr(code_pb2, GRPC_STATUS[code].name),
        message=message,
        details=[detail],
    )
    return rpc_status.to_status(status)


def status_of(error: SpecServiceError, correlation_id: str) -> grpc.Status:
    # ErrorInfo metadata is string to string: problems and details travel as text.
    metadata = {"correlation_id": correlation_id}
    for key, value in error.details.items():
        metadata[key] = value if isinstance(value, str) else _text(value)
    return rich_status(error.code, error.message, metadata)


def _text(value: object) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))[:4000]
