"""Building the operations of the OpenAPI document: parameters, body, every outcome."""

from __future__ import annotations

from typing import Any

from rest_api.openapi_common import ref
from rest_api.openapi_responses import JSON, errors, ok

Operation = dict[str, Any]

# Every /v1 operation: a malformed correlation id or query, no or bad token, a missing
# role, the store unreachable.
V1_ERRORS = (400, 401, 403, 503)
# Every operation with a JSON body: too large, not JSON, not the body's schema.
BODY_ERRORS = (413, 415, 422)
WRITE_ERRORS = (*BODY_ERRORS, 404, 409, 412)
RAW_YAML = {"type": "string", "description": "the content verbatim, as application/yaml"}


def operation(
    op_id: str,
    summary: str,
    tag: str,
    responses: dict[str, Any],
    *params: str,
    body: str | None = None,
    errs: tuple[int, ...] = (),
) -> Operation:
    v1 = tag != "operations"
    statuses = sorted({*errs, *(V1_ERRORS if v1 else (400,))})
    op: Operation = {
        "operationId": op_id,
        "summary": summary,
        "tags": [tag],
        "parameters": [
            {"$ref": f"#/components/parameters/{p}"} for p in (*params, "CorrelationId")
        ],
        "responses": {**responses, **errors(*statuses)},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": ref(body)}}}
    if not v1:
        op["security"] = []
    return op


def command(op_id: str, summary: str, body: str, *errs: int) -> Operation:
    headers = ("ETag", "X-Spec-Changed")
    done = ok("the spec after the command (unchanged for a no-op)", "Spec", *headers)
    return operation(
        op_id,
        summary,
        "specs",
        {"200": done},
        "SpecName",
        "IfMatch",
        "IdempotencyKey",
        body=body,
        errs=(*WRITE_ERRORS, *errs),
    )


def read(
    op_id: str,
    summary: str,
    schema: str,
    *params: str,
    raw: dict[str, Any] | None = None,
    errs: tuple[int, ...] = (),
    headers: tuple[str, ...] = (),
) -> Operation:
    """A GET of one spec's data: 404 for a spec that does not exist, and ``errs``."""
    responses = {"200": ok(summary, schema, *headers, raw=raw)}
    return operation(
        op_id, summary, "specs", responses, "SpecName", *params, "MinPosition", errs=(404, *errs)
    )
