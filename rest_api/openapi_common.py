"""Building blocks of the OpenAPI document: schema helpers, shared fields, error codes."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?$"
STATES = ["draft", "published", "deprecated", "deleted"]
EVENTS = ["SpecCreated", "SpecUpdated", "SpecStateChanged"]
# Every code the REST adapter answers with, by HTTP status: the codes of docs/behaviour.md
# plus its own NotFound and MethodNotAllowed (routing) and Internal (which no input may cause);
# StoreCorrupted answers a read or write of a spec whose stored events fail their checks.
CODES_BY_STATUS = {
    400: ["BadRequest"],
    401: ["Unauthenticated"],
    403: ["PermissionDenied", "SeparationOfDuties"],
    404: ["SpecNotFound", "SpecNotPublished", "VersionNotFound", "TypeNotFound", "NotFound"],
    405: ["MethodNotAllowed"],
    409: ["SpecAlreadyExists", "InvalidStateTransition", "VersionMismatch"],
    410: ["SpecDeleted"],
    412: ["PreconditionFailed"],
    413: ["PayloadTooLarge"],
    415: ["UnsupportedMediaType"],
    422: ["ValidationError", "IdempotencyKeyReused"],
    500: ["Internal", "StoreCorrupted"],
    503: ["Unavailable"],
}
ERROR_CODES = [code for codes in CODES_BY_STATUS.values() for code in codes]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """A closed object: exactly these properties, ``required`` ones always present."""
    properties = {**required, **(optional or {})}
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def nullable(kind: str, **constraints: Any) -> Schema:
    return {"type": [kind, "null"], **constraints}


STRING: Schema = {"type": "string"}
COUNT: Schema = {"type": "integer", "minimum": 1}
POSITION: Schema = {"type": "integer", "minimum": 0}
TIME = ref("Timestamp")
REASON: Schema = {
    "type": "string",
    "pattern": r"\S",
    "description": "why: 1-1000 characters after trimming; blank or longer is ValidationError",
}
CONTENT: Schema = {
    "type": "string",
    "description": "YAML text, one mapping; at most SPECSVC_MAX_SPEC_BYTES UTF-8 bytes"
    " (default 2048), PayloadTooLarge beyond",
}
