"""The errors of docs/behaviour.md (Errors), shared by the application and every adapter.

Each error knows its ``code`` and nothing about HTTP or gRPC; the
adapters map codes to statuses in one table each.
"""

from __future__ import annotations

from typing import Any


class SpecServiceError(Exception):
    """Base class: ``code`` is the error code of docs/behaviour.md, ``details`` a JSON-able dict."""

    code = "Internal"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class BadRequest(SpecServiceError):
    code = "BadRequest"


class Unauthenticated(SpecServiceError):
    code = "Unauthenticated"


class PermissionDenied(SpecServiceError):
    code = "PermissionDenied"


class SeparationOfDuties(SpecServiceError):
    code = "SeparationOfDuties"


class SpecNotFound(SpecServiceError):
    code = "SpecNotFound"


class SpecNotPublished(SpecServiceError):
    code = "SpecNotPublished"


class VersionNotFound(SpecServiceError):
    code = "VersionNotFound"


class TypeNotFound(SpecServiceError):
    code = "TypeNotFound"


class SpecAlreadyExists(SpecServiceError):
    code = "SpecAlreadyExists"


class InvalidStateTransition(SpecServiceError):
    code = "InvalidStateTransition"


class VersionMismatch(SpecServiceError):
    code = "VersionMismatch"


class SpecDeleted(SpecServiceError):
    code = "SpecDeleted"


class PreconditionFailed(SpecServiceError):
    code = "PreconditionFailed"


class PayloadTooLarge(SpecServiceError):
    code = "PayloadTooLarge"


class UnsupportedMediaType(SpecServiceError):
    code = "UnsupportedMediaType"


class ValidationError(SpecServiceError):
    """Invalid input; ``details["errors"]`` lists every problem with its path."""

    code = "ValidationError"

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None):
        problems = errors if errors is not None else [{"path": "", "message": message}]
        super().__init__(message, details={"errors": problems})

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.details["errors"])


class IdempotencyKeyReused(SpecServiceError):
    code = "IdempotencyKeyReused"


class Unavailable(SpecServiceError):
    code = "Unavailable"


class StoreCorrupted(SpecServiceError):
    """Stored events or snapshots that fail to decode or to match the hash chain: the
    details name the position (docs/behaviour.md, Tamper evidence)."""

    code = "StoreCorrupted"


ALL_ERRORS: tuple[type[SpecServiceError], ...] = (
    BadRequest,
    Unauthenticated,
    PermissionDenied,
    SeparationOfDuties,
    SpecNotFound,
    SpecNotPublished,
    VersionNotFound,
    TypeNotFound,
    SpecAlreadyExists,
    InvalidStateTransition,
    VersionMismatch,
    SpecDeleted,
    PreconditionFailed,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationError,
    IdempotencyKeyReused,
    Unavailable,
    StoreCorrupted,
)


# Errors of the operator commands (docs/behaviour.md, Command line); not part of either API.


class StoreNotFound(SpecServiceError):
    code = "StoreNotFound"


class StoreNotEmpty(SpecServiceError):
    code = "StoreNotEmpty"


class DestinationExists(SpecServiceError):
    code = "DestinationExists"


class ConfigurationError(SpecServiceError):
    """A setting that cannot work: the message names the setting and the fix."""

    code = "ConfigurationError"
