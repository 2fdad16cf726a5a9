"""components/schemas of the OpenAPI document: the JSON response bodies of the REST API."""

from __future__ import annotations

from rest_api.openapi_common import (
    COUNT,
    ERROR_CODES,
    EVENTS,
    NAME_PATTERN,
    POSITION,
    STATES,
    STRING,
    TIME,
    Schema,
    array,
    nullable,
    obj,
    ref,
)

_SPEC_FIELDS: dict[str, Schema] = {
    "id": {"type": "string", "format": "uuid"},
    "name": ref("SpecName"),
    "type": STRING,
    "state": ref("State"),
    "version": COUNT,
    "published_version": nullable("integer", minimum=1),
    "content": STRING,
    "content_sha256": ref("Sha256"),
    "has_unpublished_changes": {"type": "boolean"},
    "created_at": TIME,
    "created_by": STRING,
    "updated_at": TIME,
    "updated_by": STRING,
    "revision": {**COUNT, "description": "the aggregate's event count; the ETag"},
}
_SUMMARY_FIELDS = {k: v for k, v in _SPEC_FIELDS.items() if k != "content"}
_VERSION_FIELDS: dict[str, Schema] = {
    "version": COUNT,
    "created_at": TIME,
    "created_by": STRING,
    "reason": nullable("string"),
    "content_sha256": ref("Sha256"),
    "size": {"type": "integer", "minimum": 0, "description": "UTF-8 bytes"},
}
_PROBLEM = obj({"path": {"type": "string", "description": "JSON pointer"}, "message": STRING})
_TRACE = obj(
    {"path": STRING, "op": {"enum": ["all", "any", "not", "match"]}, "result": {"type": "boolean"}},
    {"field": STRING, "matches": STRING},
)
_STATE_OR_NULL: Schema = {"type": ["string", "null"], "enum": [*STATES, None]}

RESPONSE_SCHEMAS: dict[str, Schema] = {
    "SpecName": {"type": "string", "pattern": NAME_PATTERN, "minLength": 1, "maxLength": 128},
    "State": {"type": "string", "enum": STATES},
    "Timestamp": {"type": "string", "format": "date-time", "description": "RFC 3339, UTC"},
    "Sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "Spec": obj(_SPEC_FIELDS, {"position": {**POSITION, "description": "commands only"}}),
    "SpecSummary": obj(_SUMMARY_FIELDS),
    "SpecList": obj({"specs": array(ref("SpecSummary")), "next_page_token": nullable("string")}),
    "Published": obj(
        {
            "name": ref("SpecName"),
            "type": STRING,
            "version": COUNT,
            "content": STRING,
            "state": {"enum": ["published", "deprecated"]},
            "published_at": TIME,
        }
    ),
    "VersionInfo": obj(_VERSION_FIELDS),
    "VersionList": obj({"versions": array(ref("VersionInfo"))}),
    "Version": obj({"name": ref("SpecName"), **_VERSION_FIELDS, "content": STRING}),
    "Diff": obj(
        {
            "from": COUNT,
            "to": COUNT,
            "diff": {"type": "string", "description": "unified diff; empty when equal"},
            "changes": array(obj({"op": {"enum": ["add", "remove", "replace"]}, "path": STRING})),
        }
    ),
    "Event": obj(
        {
            "position": POSITION,
            "spec": ref("SpecName"),
            "sequence": COUNT,
            "event": {"enum": EVENTS},
            "timestamp": TIME,
            "actor": STRING,
            "correlation_id": STRING,
            "reason": nullable("string"),
            "version": COUNT,
            "from_state": _STATE_OR_NULL,
            "to_state": _STATE_OR_NULL,
            "published_version": nullable("integer", minimum=1),
        }
    ),
    "History": obj({"events": array(ref("Event"))}),
    "EventPage": obj({"events": array(ref("Event")), "next_after": POSITION}),
    "Problem": _PROBLEM,
    "EvaluateResult": obj(
        {"result": {"type": "boolean"}, "version": COUNT, "trace": array(_TRACE)}
    ),
    "ValidateResult": obj({"valid": {"type": "boolean"}, "errors": array(ref("Problem"))}),
    "SpecType": obj({"name": STRING, "description": STRING, "schema": {"type": "object"}}),
    "TypeList": obj({"types": array(ref("SpecType"))}),
    "Health": obj({"status": {"const": "ok"}, "pid": {"type": "integer", "minimum": 1}}),
    "Readiness": obj(
        {
            "status": {"enum": ["ready", "not ready"]},
            "projections": obj(
                {
                    "lag": nullable("integer", minimum=0),
                    "caught_up": {"type": "boolean"},
                    "error": nullable("string"),
                },
                {
                    "projector": {"enum": ["embedded", "worker"]},
                    "worker_running": {"type": "boolean"},
                },
            ),
            "store": obj(
                {"state": {"enum": ["ok", "corrupted"]}},
                {
                    "position": nullable("integer", minimum=0),
                    "kind": nullable("string"),
                    "reason": STRING,
                },
            ),
            "cache": obj(
                {
                    "state": {"enum": ["off", "ok", "degraded"]},
                    "error": nullable("string"),
                }
            ),
        }
    ),
    "Error": obj(
        {
            "error": obj(
                {
                    "code": {"type": "string", "enum": ERROR_CODES},
                    "message": STRING,
                    "details": {"type": "object"},
                }
            ),
            "correlation_id": STRING,
        }
    ),
}
