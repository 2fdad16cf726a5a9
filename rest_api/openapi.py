"""The OpenAPI 3.1 document of the REST API (docs/behaviour.md), served at GET /openapi.json.

The document is data, split by kind: ``openapi_schemas`` (response bodies and the error
body), ``openapi_inputs`` (request bodies and parameters), ``openapi_responses``
(headers and responses) and ``openapi_paths`` (one entry per route).
"""

from __future__ import annotations

import copy
from typing import Any

from rest_api.openapi_inputs import PARAMETERS, REQUEST_SCHEMAS
from rest_api.openapi_paths import PATHS
from rest_api.openapi_responses import HEADERS, RESPONSES
from rest_api.openapi_schemas import RESPONSE_SCHEMAS
from specsvc import __version__

DESCRIPTION = """Versioned, event-sourced YAML specs with a complete audit trail.

{auth}
Errors share one body: `{{"error": {{"code", "message", "details"}}, "correlation_id"}}`.
Writes accept `If-Match: "<revision>"` (412 when it differs); timestamps are RFC 3339 in UTC.
"""
BEARER = """Every /v1 operation needs `Authorization: Bearer <token>` (401 with `WWW-Authenticate`
otherwise)."""
ANONYMOUS = """This server runs without authentication: every request runs as `anonymous` with every
role, and no request is refused for its credentials."""

TAGS = [
    {"name": "specs", "description": "specs, their lifecycle commands, versions and history"},
    {"name": "audit", "description": "the global audit log"},
    {"name": "catalog", "description": "spec types and dry-run validation"},
    {"name": "operations", "description": "health, metrics and this document; no token"},
]


def openapi_document(*, anonymous: bool = False) -> dict[str, Any]:
    """A fresh copy of the document, so a caller may change it without harm.

    ``anonymous`` describes a server without authentication: it declares no security
    requirement and no 401, since clients and fuzzers would expect refusals that never come.
    """
    document = _document()
    if anonymous:
        _without_auth(document)
    document["info"]["description"] = DESCRIPTION.format(auth=ANONYMOUS if anonymous else BEARER)
    return document


def _without_auth(document: dict[str, Any]) -> None:
    del document["security"]
    components = document["components"]
    del components["securitySchemes"]
    del components["responses"]["Unauthenticated"]
    del components["headers"]["WWW-Authenticate"]
    for item in document["paths"].values():
        for operation in item.values():
            operation.pop("security", None)
            operation["responses"].pop("401", None)


def _document() -> dict[str, Any]:
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
            "info": {
                "title": "Spec Service",
                "version": __version__,
                "license": {"name": "MIT", "identifier": "MIT"},
            },
            "tags": TAGS,
            "security": [{"bearerAuth": []}],
            "paths": PATHS,
            "components": {
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "an opaque token from `specsvc token new`, or a JWT",
                    }
                },
                "schemas": {**RESPONSE_SCHEMAS, **REQUEST_SCHEMAS},
                "parameters": PARAMETERS,
                "headers": HEADERS,
                "responses": RESPONSES,
            },
        }
    )
