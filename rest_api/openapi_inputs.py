"""What requests carry: JSON body schemas and the path, query and header parameters."""

from __future__ import annotations

from typing import Any

from rest_api.openapi_common import CONTENT, COUNT, REASON, STATES, Schema, nullable, obj, ref

MAX_DIGITS = 999_999_999_999  # integers in paths and queries have at most 12 digits
MAX_QUERY = 512  # longer query values are BadRequest

RULES = "rule: {field: email, matches: '@example\\.com$'}\n"


def _example(schema: Schema, example: dict[str, Any]) -> Schema:
    return {**schema, "examples": [example]}


REQUEST_SCHEMAS: dict[str, Schema] = {
    "CreateSpec": _example(
        obj(
            {"name": ref("SpecName"), "type": {"type": "string"}, "content": CONTENT},
            {"reason": {**REASON, "type": ["string", "null"]}},
        ),
        {"name": "signup-rules", "type": "regex-rules", "content": RULES, "reason": "new"},
    ),
    "UpdateContent": _example(
        obj(
            {"content": CONTENT, "reason": REASON},
            {"expected_version": nullable("integer", minimum=1)},
        ),
        {"content": "rule: {field: country, matches: '^DE$'}\n", "reason": "Germany only"},
    ),
    "Publish": _example(
        obj({"reason": REASON}, {"version": nullable("integer", minimum=1)}),
        {"reason": "release", "version": 1},
    ),
    "Reason": _example(obj({"reason": REASON}), {"reason": "superseded"}),
    "Evaluate": _example(
        obj(
            {"input": {"type": "object", "description": "the mapping to evaluate the rule on"}},
            {"version": nullable("integer", minimum=1)},
        ),
        {"input": {"email": "ann@example.com"}},
    ),
    "Validate": _example(
        obj({"type": {"type": "string"}, "content": CONTENT}),
        {"type": "regex-rules", "content": RULES},
    ),
}


def param(where: str, name: str, schema: Schema, description: str = "", **more: Any) -> Schema:
    spec = {"name": name, "in": where, "schema": schema, **more}
    if where == "path":
        spec["required"] = True
    if description:
        spec["description"] = description
    return spec


def _text(max_length: int) -> Schema:
    return {"type": "string", "maxLength": max_length}


_INSTANT: Schema = {"type": "string", "format": "date-time", "maxLength": MAX_QUERY}
_NUMBER: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_DIGITS}
_NOT_FOUND = "; a name that no spec can have answers SpecNotFound (404), not 400"

PARAMETERS: dict[str, Schema] = {
    "SpecName": param(
        "path",
        "name",
        ref("SpecName"),
        "the spec's name" + _NOT_FOUND,
        examples={
            "rules": {"value": "checkout-rules"},
            "draft": {"value": "feature-flags"},
            "deprecated": {"value": "legacy-limits"},
        },
    ),
    "Version": param("path", "version", _NUMBER, "a content version", example=1),
    "TypeName": param("path", "name", {"type": "string"}, "a type's name", example="regex-rules"),
    "AsOf": param("query", "as_of", _INSTANT, "read the state at this RFC 3339 instant"),
    "State": param("query", "state", {"type": "string", "enum": STATES}, "deleted ones only here"),
    "Type": param("query", "type", _text(128), "only specs of this type"),
    "NamePrefix": param("query", "name_prefix", _text(128), "only names starting so"),
    "SpecsLimit": param("query", "limit", {**COUNT, "maximum": 500, "default": 50}),
    "PageToken": param("query", "page_token", _text(MAX_QUERY), "next_page_token of a page"),
    "From": param("query", "from", _NUMBER, "the old version", required=True, example=1),
    "To": param("query", "to", _NUMBER, "the new version", required=True, example=2),
    "After": param(
        "query",
        "after",
        {"type": "integer", "minimum": 0, "maximum": MAX_DIGITS, "default": 0},
        "events after this position",
    ),
    "EventsLimit": param("query", "limit", {**COUNT, "maximum": 500, "default": 100}),
    "Actor": param("query", "actor", _text(256), "only events by this principal"),
    "Spec": param("query", "spec", _text(256), "only events of the spec with this name"),
    "Since": param("query", "since", _INSTANT, "only events at or after this instant"),
    "Until": param("query", "until", _INSTANT, "only events at or before this instant"),
    "CorrelationId": param(
        "header",
        "X-Correlation-ID",
        {"type": "string", "pattern": r"^[\x21-\x7e]{1,128}$"},
        "stored in the events the request causes and echoed; BadRequest if malformed",
    ),
    "IfMatch": param(
        "header", "If-Match", {"type": "string"}, 'write only at this revision: "<revision>"'
    ),
    "IdempotencyKey": param(
        "header",
        "Idempotency-Key",
        {"type": "string", "pattern": r"^[\x20-\x7e]{1,128}$"},
        "a retry with the same key and request answers as the first answer did and writes"
        " nothing; the same key with another request is IdempotencyKeyReused (422)",
    ),
    "MinPosition": param(
        "header",
        "X-Min-Position",
        {"type": "string", "pattern": r"^[0-9]{1,19}$"},
        "answer only once the read models hold this position (a write's position): waits"
        " up to the consistency timeout, then 503 Unavailable with Retry-After",
    ),
    "IfNoneMatch": param(
        "header", "If-None-Match", {"type": "string"}, "304 when the revision still matches"
    ),
}
