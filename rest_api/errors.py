"""One table from error code to HTTP status, and one error response shape."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from specsvc.auth import www_authenticate
from specsvc.errors import SpecServiceError, Unauthenticated

logger = logging.getLogger(__name__)

HTTP_STATUS: dict[str, int] = {
    "BadRequest": 400,
    "Unauthenticated": 401,
    "PermissionDenied": 403,
    "SeparationOfDuties": 403,
    "SpecNotFound": 404,
    "SpecNotPublished": 404,
    "VersionNotFound": 404,
    "TypeNotFound": 404,
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "SpecAlreadyExists": 409,
    "InvalidStateTransition": 409,
    "VersionMismatch": 409,
    "SpecDeleted": 410,
    "PreconditionFailed": 412,
    "PayloadTooLarge": 413,
    "UnsupportedMediaType": 415,
    "ValidationError": 422,
    "IdempotencyKeyReused": 422,
    "Internal": 500,
    "StoreCorrupted": 500,
    "Unavailable": 503,
}

# Werkzeug's own errors (routing, methods) in the error shape of docs/behaviour.md, Errors.
_HTTP_CODES = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
}


def error_response(
    code: str, message: str, details: dict[str, Any] | None = None
) -> tuple[Response, int]:
    """Every JSON error goes through here: the error body with the correlation id."""
    g.error_code = code
    body = {
        "error": {"code": code, "message": message, "details": details or {}},
        "correlation_id": g.get("correlation_id"),
    }
    return jsonify(body), HTTP_STATUS[code]


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(SpecServiceError)
    def service_error(error: SpecServiceError) -> tuple[Response, int]:
        response, status = error_response(error.code, error.message, error.details)
        if isinstance(error, Unauthenticated):
            response.headers["WWW-Authenticate"] = www_authenticate(error)
        if status == HTTP_STATUS["Unavailable"]:
            response.headers["Retry-After"] = str(error.details.get("retry_after", 1))
        return response, status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        code = _HTTP_CODES.get(error.code or 500, "BadRequest")
        response, status = error_response(code, error.description or code)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response, status

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response, int]:
        logger.exception("unhandled error")
        return error_response("Internal", "internal error; the correlation id identifies it")
