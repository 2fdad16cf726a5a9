"""Error responses of the REST API turned back into ``specsvc.errors`` exceptions."""

from __future__ import annotations

import json

from specsvc.errors import ALL_ERRORS, SpecServiceError, ValidationError

ERRORS_BY_CODE = {error.code: error for error in ALL_ERRORS}


def error_from_response(status: int, raw: bytes) -> SpecServiceError:
    """The exception an error response stands for; its ``code`` is the server's."""
    try:
        error = json.loads(raw)["error"]
        code, message, details = error["code"], error["message"], error.get("details") or {}
    except (ValueError, KeyError, TypeError):
        # Not this service's error shape: a proxy or something else answered.
        code = "Unavailable" if status >= 500 else "UnexpectedResponse"
        message, details = f"HTTP {status} without a specsvc error body", {}
    known = ERRORS_BY_CODE.get(code)
    if known is ValidationError:
        return ValidationError(message, errors=details.get("errors", []))
    failure = (known or SpecServiceError)(message, details=details)
    failure.code = code
    return failure
