"""paths of the OpenAPI document: every route of the REST adapter, its inputs and outcomes."""

from __future__ import annotations

from rest_api.openapi_common import ref
from rest_api.openapi_operations import BODY_ERRORS, RAW_YAML, Operation, command, operation, read
from rest_api.openapi_responses import DIFF, JSON, YAML, ok, response

_CREATED = ok("created", "Spec", "ETag", "Location", "X-Spec-Changed")
_SPEC = ok("the spec", "Spec", "ETag")
_NOT_MODIFIED = response("If-None-Match holds the current revision", None, "ETag")
_READY = ok("ready", "Readiness")
_NOT_READY = response("store unreachable or projections behind", {JSON: ref("Readiness")})
_METRICS = response("Prometheus text format", {"text/plain": {"type": "string"}})
_DOCUMENT = response("this document", {JSON: {"type": "object"}})

PATHS: dict[str, dict[str, Operation]] = {
    "/v1/specs": {
        "post": operation(
            "createSpec",
            "create a spec (If-Match always fails: it does not exist yet)",
            "specs",
            {"201": _CREATED},
            "IfMatch",
            "IdempotencyKey",
            body="CreateSpec",
            errs=(*BODY_ERRORS, 409, 412),
        ),
        "get": operation(
            "listSpecs",
            "spec summaries ordered by name; deleted ones only with state=deleted",
            "specs",
            {"200": ok("one page of summaries", "SpecList")},
            *("State", "Type", "NamePrefix", "SpecsLimit", "PageToken", "MinPosition"),
        ),
    },
    "/v1/specs/{name}": {
        "get": operation(
            "getSpec",
            "the spec now, or as it stood at as_of",
            "specs",
            {"200": _SPEC, "304": _NOT_MODIFIED},
            *("SpecName", "AsOf", "IfNoneMatch", "MinPosition"),
            errs=(404,),
        )
    },
    "/v1/specs/{name}/content": {
        "put": command("updateContent", "write a new content version", "UpdateContent")
    },
    "/v1/specs/{name}/publish": {
        "post": command("publishSpec", "publish a version (default latest)", "Publish", 403)
    },
    "/v1/specs/{name}/deprecate": {"post": command("deprecateSpec", "deprecate", "Reason")},
    "/v1/specs/{name}/delete": {"post": command("deleteSpec", "delete", "Reason")},
    "/v1/specs/{name}/published": {
        "get": read(
            "getPublished",
            "what consumers are (or were, as_of) served; Deprecation: true once deprecated",
            "Published",
            "AsOf",
            raw={YAML: RAW_YAML},
            errs=(410,),
            headers=("Deprecation",),
        )
    },
    "/v1/specs/{name}/versions": {"get": read("listVersions", "every version", "VersionList")},
    "/v1/specs/{name}/versions/{version}": {
        "get": read(
            "getVersion", "one version with content", "Version", "Version", raw={YAML: RAW_YAML}
        )
    },
    "/v1/specs/{name}/diff": {
        "get": read(
            "diffVersions",
            "unified diff and changed paths",
            "Diff",
            *("From", "To"),
            raw={DIFF: {"type": "string"}},
        )
    },
    "/v1/specs/{name}/history": {"get": read("getHistory", "every event, oldest first", "History")},
    "/v1/specs/{name}/evaluate": {
        "post": operation(
            "evaluateSpec",
            "evaluate a regex-rules spec: the published version, else the latest",
            "specs",
            {"200": ok("the result and its trace", "EvaluateResult")},
            "SpecName",
            "MinPosition",
            body="Evaluate",
            errs=(*BODY_ERRORS, 404, 410),
        )
    },
    "/v1/events": {
        "get": operation(
            "listEvents",
            "the global audit log in commit order",
            "audit",
            {"200": ok("events and the position to continue after", "EventPage")},
            *("After", "EventsLimit", "Actor", "Spec", "Since", "Until", "MinPosition"),
        )
    },
    "/v1/validate": {
        "post": operation(
            "validateContent",
            "dry-run validation; writes nothing",
            "catalog",
            {"200": ok("whether the content is valid, and every problem", "ValidateResult")},
            body="Validate",
            errs=BODY_ERRORS,
        )
    },
    "/v1/types": {
        "get": operation("listTypes", "spec types", "catalog", {"200": ok("types", "TypeList")})
    },
    "/v1/types/{name}": {
        "get": operation(
            "getType",
            "one spec type with its JSON Schema",
            "catalog",
            {"200": ok("the type", "SpecType")},
            "TypeName",
            errs=(404,),
        )
    },
    "/healthz": {
        "get": operation("healthz", "liveness", "operations", {"200": ok("alive", "Health")})
    },
    "/readyz": {
        "get": operation("readyz", "readiness", "operations", {"200": _READY, "503": _NOT_READY})
    },
    "/metrics": {
        "get": operation("metrics", "Prometheus metrics", "operations", {"200": _METRICS})
    },
    "/openapi.json": {
        "get": operation("openapi", "this OpenAPI document", "operations", {"200": _DOCUMENT})
    },
}
