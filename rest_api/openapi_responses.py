"""Responses of the OpenAPI document: headers, success bodies, the error body per status."""

from __future__ import annotations

from typing import Any

from rest_api.openapi_common import CODES_BY_STATUS, Schema, ref

JSON = "application/json"
YAML = "application/yaml"
DIFF = "text/x-diff"

HEADERS: dict[str, Schema] = {
    "X-Correlation-ID": {
        "description": "the request's correlation id, or one the server made",
        "required": True,
        "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,128}$"},
    },
    "ETag": {
        "description": 'the spec\'s revision: "<revision>"',
        "required": True,
        "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
    },
    "Location": {
        "description": "the new spec: /v1/specs/{name}",
        "required": True,
        "schema": {"type": "string", "pattern": "^/v1/specs/[a-z0-9._-]+$"},
    },
    "X-Spec-Changed": {
        "description": "on a command's answer: false when the command had nothing to do",
        "required": True,
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
    "Deprecation": {
        "description": "present when the spec is deprecated",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "WWW-Authenticate": {
        "description": 'Bearer realm="specsvc", with an RFC 6750 error when a token was sent',
        "required": True,
        "schema": {"type": "string", "pattern": "^Bearer "},
    },
}

# The error statuses an operation can answer, by HTTP status.
ERROR_STATUSES = {
    400: "BadRequest",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Gone",
    412: "PreconditionFailed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "ValidationError",
    503: "Unavailable",
}


def header_refs(*names: str) -> dict[str, Schema]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in ("X-Correlation-ID", *names)}


def response(
    description: str, content: dict[str, Schema] | None = None, *headers: str
) -> dict[str, Any]:
    """A response with the correlation id header, ``headers`` and ``content`` by media type."""
    result: dict[str, Any] = {"description": description, "headers": header_refs(*headers)}
    if content:
        result["content"] = {media: {"schema": schema} for media, schema in content.items()}
    return result


def ok(
    description: str, schema: str, *headers: str, raw: dict[str, Schema] | None = None
) -> dict[str, Any]:
    """A JSON success body from components/schemas, plus ``raw`` media types."""
    return response(description, {JSON: ref(schema), **(raw or {})}, *headers)


def _error_response(status: int) -> dict[str, Any]:
    """The shared error body, its code narrowed to the codes of ``status``."""
    codes = CODES_BY_STATUS[status]
    error: Schema = {"properties": {"code": {"enum": codes}}}
    if status == 422:
        # A ValidationError lists its problems; an IdempotencyKeyReused names the key.
        error = {
            **error,
            "oneOf": [
                {
                    "properties": {
                        "code": {"const": "ValidationError"},
                        "details": {
                            "type": "object",
                            "properties": {"errors": {"type": "array", "items": ref("Problem")}},
                            "required": ["errors"],
                        },
                    }
                },
                {"properties": {"code": {"const": "IdempotencyKeyReused"}}},
            ]
        }
    schema = {"allOf": [ref("Error"), {"properties": {"error": error}}]}
    extra = ("WWW-Authenticate",) if status == 401 else ()
    return response(" or ".join(codes), {JSON: schema}, *extra)


RESPONSES = {name: _error_response(status) for status, name in ERROR_STATUSES.items()}


def errors(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {"$ref": f"#/components/responses/{ERROR_STATUSES[status]}"}
        for status in statuses
    }
