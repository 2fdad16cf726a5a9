"""The OpenAPI document: valid 3.1, in step with the Flask routes, and true of the app.

``test_app_conforms_to_its_document`` runs schemathesis against the app in-process:
every documented operation with positive and negative inputs (examples, coverage and
fuzzing phases), failing on server errors and on any status, media type, body or header
that the document does not allow.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from schemathesis.checks import not_a_server_error
from schemathesis.core.media_types import YAML_MEDIA_TYPES
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from rest_api import create_app
from rest_api.bodies import BODIES, Presence
from rest_api.errors import HTTP_STATUS
from specsvc import SpecService
from specsvc.auth import Authenticator, TokenStore
from specsvc.auth.tokens import sha256_hex
from specsvc.config import Settings

RULES = "rule: {field: email, matches: '@example\\.com$'}\n"
AUTOMATIC_METHODS = {"HEAD", "OPTIONS"}  # Flask adds these to every rule
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    # An operation that declares a security requirement must refuse a request without it.
    ignored_auth,
]


@schemathesis.deserializer(*YAML_MEDIA_TYPES)
def yaml_as_text(ctx: Any, response: Any) -> str:
    """A spec's YAML is served verbatim and documented as text, so read it as text."""
    return str(response.content.decode(response.encoding or "utf-8"))


def seed(service: SpecService) -> None:
    """A published regex-rules spec, a draft, a deprecated and a deleted generic one."""

    def make(name: str, spec_type: str, *contents: str) -> None:
        service.create_spec(name, spec_type, contents[0], actor="seed", reason="seed")
        for content in contents[1:]:
            service.update_spec(name, content, actor="seed", reason="seed")

    make("checkout-rules", "regex-rules", RULES, "rule: {not: {field: country, matches: '^XX$'}}\n")
    service.publish_spec("checkout-rules", actor="seed", reason="go live")
    make("feature-flags", "generic", "flags: {dark_mode: false}\n", "flags: {dark_mode: true}\n")
    make("legacy-limits", "generic", "limits: {rps: 10}\n")
    service.publish_spec("legacy-limits", actor="seed", reason="go live")
    service.deprecate_spec("legacy-limits", actor="seed", reason="replaced")
    make("retired", "generic", "a: 1\n")
    service.delete_spec("retired", actor="seed", reason="unused")


@pytest.fixture
def seeded() -> Iterator[Callable[[], SpecService]]:
    """Opens seeded in-memory services (whatever the environment says); closes them."""
    opened: list[SpecService] = []

    def open_seeded() -> SpecService:
        service = SpecService.open(settings=Settings())
        opened.append(service)
        seed(service)
        return service

    yield open_seeded
    for service in opened:
        service.close()


@pytest.fixture
def app(seeded: Callable[[], SpecService]) -> Flask:
    return create_app(seeded(), None)  # anonymous: every role, so no run is stuck at 401


@pytest.fixture
def document(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document, cls=OpenAPIV31SpecValidator)


def openapi_path(rule: str) -> str:
    """Flask's ``/v1/specs/<name>`` (or ``<int:name>``) as OpenAPI's ``/v1/specs/{name}``."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def test_document_and_routes_match(app: Flask, document: dict[str, Any]) -> None:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            methods = set(rule.methods or ()) - AUTOMATIC_METHODS
            routes.setdefault(openapi_path(rule.rule), set()).update(methods)
    documented = {
        path: {method.upper() for method in item} for path, item in document["paths"].items()
    }
    assert documented == routes


def test_request_schemas_say_what_the_body_declarations_say(
    app: Flask, document: dict[str, Any]
) -> None:
    """One declaration per body (rest_api.bodies); the document must not drift from it."""
    schemas = document["components"]["schemas"]
    documented_bodies = set()
    for rule in app.url_map.iter_rules():
        for method in set(rule.methods or ()) - AUTOMATIC_METHODS:
            operation = document["paths"][openapi_path(rule.rule)][method.lower()]
            if "requestBody" not in operation:
                assert rule.endpoint not in BODIES, rule.endpoint
                continue
            documented_bodies.add(rule.endpoint)
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            schema = schemas[ref.rsplit("/", 1)[1]]
            declared = BODIES[rule.endpoint]
            assert set(schema["properties"]) == set(declared), rule.endpoint
            needed = {n for n, f in declared.items() if f.presence is not Presence.OPTIONAL}
            assert set(schema["required"]) == needed, rule.endpoint
            for name, field in declared.items():
                kind = schemas["SpecName"]["type"] if name == "name" else field.kind
                wanted = kind if field.presence is not Presence.OPTIONAL else [kind, "null"]
                got = schema["properties"][name].get("type", kind)
                assert got == wanted, (rule.endpoint, name)
    assert documented_bodies == set(BODIES)


READER_TOKEN = "reader-token-for-tests"
READER = {"principal": "rita", "sha256": sha256_hex(READER_TOKEN), "roles": ["reader"]}


def document_of(app: Flask) -> dict[str, Any]:
    body: dict[str, Any] = app.test_client().get("/openapi.json").get_json()
    validate(body, cls=OpenAPIV31SpecValidator)
    return body


def test_every_v1_operation_needs_a_bearer_token_when_auth_is_configured(
    seeded: Callable[[], SpecService],
) -> None:
    document = document_of(create_app(seeded(), Authenticator(TokenStore([READER]))))
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert document["security"] == [{"bearerAuth": []}]
    unauthenticated = document["components"]["responses"]["Unauthenticated"]
    assert "WWW-Authenticate" in unauthenticated["headers"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            public = operation.get("security") == []
            assert public != path.startswith("/v1/"), (method, path)
            assert public or "401" in operation["responses"], (method, path)


@pytest.mark.parametrize(
    "authenticator", [None, Authenticator(None, None)], ids=["no-authenticator", "empty"]
)
def test_an_anonymous_server_declares_no_security_and_no_401(
    seeded: Callable[[], SpecService], authenticator: Authenticator | None
) -> None:
    document = document_of(create_app(seeded(), authenticator))
    assert "security" not in document
    assert "securitySchemes" not in document["components"]
    assert "Unauthenticated" not in document["components"]["responses"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation.get("security", []) == [], (method, path)
            assert "401" not in operation["responses"], (method, path)
    assert "anonymous" in document["info"]["description"]


def test_raw_representations_are_described_as_text(document: dict[str, Any]) -> None:
    raw = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for response in operation["responses"].values():
                for media, content in response.get("content", {}).items():
                    if media in ("application/yaml", "text/x-diff"):
                        raw.append(media)
                        assert content["schema"]["type"] == "string", (method, path, media)
    assert sorted(raw) == ["application/yaml", "application/yaml", "text/x-diff"]


def test_error_codes_and_statuses_match_the_app(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["Error"]["properties"]["error"]
    assert set(error["properties"]["code"]["enum"]) == set(HTTP_STATUS)
    components = document["components"]["responses"]
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if "$ref" in response:
                    narrowed = components[response["$ref"].rsplit("/", 1)[1]]
                    codes = narrowed["content"]["application/json"]["schema"]["allOf"][1]
                    enum = codes["properties"]["error"]["properties"]["code"]["enum"]
                    assert enum == [c for c, s in HTTP_STATUS.items() if str(s) == status]


@pytest.fixture
def api_schema(app: Flask, request: pytest.FixtureRequest) -> Any:
    # schemathesis 4.32's from_fixture reads Node._nodeid, which pytest 9 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_app_conforms_to_its_document(
    case: schemathesis.Case, app: Flask, seeded: Callable[[], SpecService]
) -> None:
    # Every operation starts from the seeded data, whatever the operations before it wrote.
    if app.config.get("TEST_OPERATION") != case.operation.label:
        app.config["TEST_OPERATION"] = case.operation.label
        app.extensions["specsvc"] = seeded()
    case.call_and_validate(checks=CHECKS)


ADMIN_TOKEN = "admin-token-for-tests"
ADMIN = {"principal": "ada", "sha256": sha256_hex(ADMIN_TOKEN), "roles": ["admin"]}


@pytest.fixture
def authenticated_app(seeded: Callable[[], SpecService]) -> Flask:
    return create_app(seeded(), Authenticator(TokenStore([READER, ADMIN])))


@pytest.fixture
def authenticated_schema(authenticated_app: Flask, request: pytest.FixtureRequest) -> Any:
    if not hasattr(request.node, "_nodeid"):  # as in api_schema
        request.node._nodeid = request.node.nodeid
    return schemathesis.openapi.from_wsgi("/openapi.json", authenticated_app)


authenticated = schemathesis.pytest.from_fixture("authenticated_schema")


@authenticated.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_app_with_authentication_conforms_to_its_document(
    case: schemathesis.Case, authenticated_app: Flask, seeded: Callable[[], SpecService]
) -> None:
    """The same run with tokens configured: ignored_auth now probes every secured operation."""
    if authenticated_app.config.get("TEST_OPERATION") != case.operation.label:
        authenticated_app.config["TEST_OPERATION"] = case.operation.label
        authenticated_app.extensions["specsvc"] = seeded()
    case.call_and_validate(checks=CHECKS, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/v1/specs", {}, 401),
        ("GET", "/v1/specs", {"headers": {"Authorization": "Basic eDp5"}}, 401),
        ("GET", "/v1/specs", {"headers": {"Authorization": "Bearer wrong"}}, 401),
        ("GET", "/v1/specs/{name}", {"path_parameters": {"name": "checkout-rules"}}, 200),
        ("POST", "/v1/specs/{name}/delete", {"path_parameters": {"name": "retired"}}, 403),
        ("GET", "/healthz", {"headers": {"Authorization": None}}, 200),
    ],
)
def test_responses_with_tokens_conform(
    seeded: Callable[[], SpecService],
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
) -> None:
    app = create_app(seeded(), Authenticator(TokenStore([READER])))
    loaded = schemathesis.openapi.from_wsgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {READER_TOKEN}"} if status != 401 else {}
    headers.update(kwargs.pop("headers", {}))
    body: Any = {"reason": "tidy up"} if method == "POST" else schemathesis.core.NOT_SET
    case = loaded[path][method].Case(
        headers={k: v for k, v in headers.items() if v is not None}, body=body, **kwargs
    )
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code == status
    if status == 401:
        assert response.headers["www-authenticate"][0].startswith("Bearer")


@pytest.mark.parametrize(
    ("path", "name", "headers", "query", "status", "media_type"),
    [
        ("/v1/specs/{name}", "feature-flags", {"If-None-Match": '"2"'}, {}, 304, None),
        ("/v1/specs/{name}/published", "legacy-limits", {"Accept": "application/yaml"}, {},
         200, "application/yaml"),
        ("/v1/specs/{name}/published", "retired", {}, {}, 410, "application/json"),
        ("/v1/specs/{name}/versions/{version}", "checkout-rules",
         {"Accept": "application/yaml"}, {}, 200, "application/yaml"),
        ("/v1/specs/{name}/diff", "checkout-rules", {"Accept": "text/x-diff"},
         {"from": 1, "to": 2}, 200, "text/x-diff"),
    ],
)  # fmt: skip
def test_alternative_representations_conform(
    app: Flask,
    path: str,
    name: str,
    headers: dict[str, str],
    query: dict[str, int],
    status: int,
    media_type: str | None,
) -> None:
    loaded = schemathesis.openapi.from_wsgi("/openapi.json", app)
    parameters = {"name": name, **({"version": 1} if "{version}" in path else {})}
    case = loaded[path]["GET"].Case(path_parameters=parameters, headers=headers, query=query)
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code == status
    if media_type is not None:
        assert response.headers["content-type"][0].startswith(media_type)
    if name == "legacy-limits":
        assert response.headers["deprecation"] == ["true"]
