"""Helpers for the REST adapter's tests: a client that speaks as one principal, and the
error body checked exactly."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from rest_api import create_app
from specsvc import SpecService
from tests.support.principals import JwtKeys, authenticator, token_of
from tests.support.stores import event_count

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


def build_app(
    service: SpecService, keys: JwtKeys, *, max_request_bytes: int | None = None
) -> Flask:
    app = create_app(service, authenticator(keys), max_request_bytes=max_request_bytes)
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
