"""Fixtures and helpers for the REST API tests: a real app, real tokens, real JWTs.

Test modules load this with ``pytest_plugins = ("tests.rest_fixtures",)`` and import
its helpers, so pytest sees it only after the import and cannot rewrite its asserts:
PYTEST_DONT_REWRITE says so, and the asserts here carry their own messages.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from rest_api import create_app
from specsvc import SpecService
from specsvc.auth import Authenticator, JwtVerifier, TokenStore
from tests.conftest import event_count, open_service

ISSUER = "https://issuer.example"
AUDIENCE = "specsvc"

# principal -> roles; "carol" holds two roles so that four-eyes has someone to stop.
PRINCIPALS: dict[str, tuple[str, ...]] = {
    "rita": ("reader",),
    "alice": ("author",),
    "bob": ("author",),
    "paul": ("publisher",),
    "penny": ("publisher",),
    "ada": ("admin",),
    "carol": ("author", "publisher"),
}
ROLE_PRINCIPAL = {"reader": "rita", "author": "alice", "publisher": "paul", "admin": "ada"}

SPEC_FIELDS = {
    "id",
    "name",
    "type",
    "state",
    "version",
    "published_version",
    "content",
    "content_sha256",
    "has_unpublished_changes",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "revision",
}
EVENT_FIELDS = {
    "position",
    "spec",
    "sequence",
    "event",
    "timestamp",
    "actor",
    "correlation_id",
    "reason",
    "version",
    "from_state",
    "to_state",
    "published_version",
}
RULES = "# who may sign up\nrule: {field: email, matches: '@example\\.com$'}\n"
OTHER_RULES = "rule: {field: email, matches: '@other\\.org$'}\n"


def token_of(principal: str) -> str:
    return f"sst_test-token-of-{principal}"


def token_store() -> TokenStore:
    entries = [
        {
            "principal": name,
            "sha256": hashlib.sha256(token_of(name).encode()).hexdigest(),
            "roles": list(roles),
        }
        for name, roles in PRINCIPALS.items()
    ]
    return TokenStore(entries)


@dataclass(frozen=True)
class JwtKeys:
    hs256_secret: bytes
    rsa_private: rsa.RSAPrivateKey
    rsa_public_pem: bytes


@pytest.fixture(scope="session")
def jwt_keys() -> JwtKeys:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return JwtKeys(secrets.token_bytes(32), private, public_pem)


def claims(subject: str = "jwt-jane", roles: tuple[str, ...] = ("admin",), **extra: Any) -> dict:
    now = int(time.time())
    base = {"sub": subject, "roles": list(roles), "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600}
    return {**base, "iat": now, **extra}


def hs256_token(keys: JwtKeys, **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), keys.hs256_secret, algorithm="HS256")


def build_app(
    service: SpecService, keys: JwtKeys, *, max_request_bytes: int | None = None
) -> Flask:
    verifier = JwtVerifier(keys.hs256_secret, "HS256", issuer=ISSUER, audience=AUDIENCE)
    authenticator = Authenticator(token_store(), verifier)
    app = create_app(service, authenticator, max_request_bytes=max_request_bytes)
    app.testing = True
    return app


class Api:
    """A Flask test client that sends one principal's bearer token with every request."""

    def __init__(self, client: FlaskClient, service: SpecService, principal: str | None = "ada"):
        self.client = client
        self.service = service
        self.principal = principal

    def as_(self, principal: str | None) -> Api:
        return Api(self.client, self.service, principal)

    def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> TestResponse:
        sent = {"Authorization": f"Bearer {token_of(self.principal)}"} if self.principal else {}
        sent.update(headers or {})
        return self.client.open(path, method=method, headers=sent, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("PUT", path, **kwargs)

    def create(self, name: str = "demo", content: str = "a: 1\n", type: str = "generic") -> dict:
        response = self.post("/v1/specs", json={"name": name, "type": type, "content": content})
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()

    def update(
        self, name: str, content: str, *, headers: dict[str, str] | None = None, **body: Any
    ) -> TestResponse:
        body = {"content": content, "reason": "edit", **body}
        return self.put(f"/v1/specs/{name}/content", json=body, headers=headers)

    def command(
        self, name: str, action: str, *, headers: dict[str, str] | None = None, **body: Any
    ) -> TestResponse:
        """publish, deprecate or delete ``name`` with a reason."""
        body = {"reason": f"{action} it", **body}
        return self.post(f"/v1/specs/{name}/{action}", json=body, headers=headers)

    def ok(self, response: TestResponse, status: int = 200) -> dict:
        assert response.status_code == status, response.get_data(as_text=True)
        return response.get_json()

    def events(self) -> int:
        return event_count(self.service)

    def history(self, name: str) -> list[dict]:
        return self.ok(self.get(f"/v1/specs/{name}/history"))["events"]


@pytest.fixture
def app(service: SpecService, jwt_keys: JwtKeys) -> Flask:
    return build_app(service, jwt_keys)


@pytest.fixture
def api(app: Flask, service: SpecService) -> Api:
    """The admin's client on the parametrized service (memory and SQLite file)."""
    return Api(app.test_client(), service)


@pytest.fixture(params=["memory", "sqlite-file"])
def four_eyes_api(
    request: pytest.FixtureRequest, tmp_path: Path, jwt_keys: JwtKeys
) -> Iterator[Api]:
    svc = open_service(request.param, tmp_path, four_eyes=True)
    yield Api(build_app(svc, jwt_keys).test_client(), svc)
    svc.close()


def assert_error(response: TestResponse, status: int, code: str) -> dict:
    """The error body, exactly; returns its ``error`` member."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, f"{response.status_code} {text}"
    assert response.mimetype == "application/json", text
    body = response.get_json()
    assert set(body) == {"error", "correlation_id"}, text
    assert set(body["error"]) == {"code", "message", "details"}, text
    assert body["error"]["code"] == code, text
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], text
    assert isinstance(body["error"]["details"], dict), text
    assert body["correlation_id"] == response.headers["X-Correlation-ID"], text
    if code == "ValidationError":
        problems = body["error"]["details"].get("errors")
        assert problems, f"a ValidationError lists its problems: {text}"
        for problem in problems:
            assert set(problem) == {"path", "message"}, text
            assert isinstance(problem["path"], str), text
            assert isinstance(problem["message"], str), text
    return body["error"]
