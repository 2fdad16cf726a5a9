"""Correlation ids: echoed on every response and stored in the events a request causes."""

from __future__ import annotations

import uuid

import pytest
from werkzeug.test import TestResponse

from tests.support.rest import Api, assert_error


def run(api: Api, action: str, headers: dict[str, str]) -> TestResponse:
    """Each write on ``cid``, made from the state the previous one left."""
    if action == "create":
        body = {"name": "cid", "type": "generic", "content": "a: 1\n"}
        return api.post("/v1/specs", json=body, headers=headers)
    if action == "update":
        body = {"content": "a: 2\n", "reason": "edit"}
        return api.put("/v1/specs/cid/content", json=body, headers=headers)
    return api.post(f"/v1/specs/cid/{action}", json={"reason": "why"}, headers=headers)


LIFECYCLE = ["create", "update", "publish", "deprecate", "delete"]


def test_a_given_correlation_id_is_echoed_and_stored_in_each_event(api: Api) -> None:
    for index, action in enumerate(LIFECYCLE):
        given = f"req-{action}-{index}"
        response = run(api, action, {"X-Correlation-ID": given})
        assert response.status_code in (200, 201), response.get_data(as_text=True)
        assert response.headers["X-Correlation-ID"] == given
    stored = [e["correlation_id"] for e in api.history("cid")]
    assert stored == [f"req-{action}-{index}" for index, action in enumerate(LIFECYCLE)]


def test_the_audit_log_carries_the_correlation_id_too(api: Api) -> None:
    run(api, "create", {"X-Correlation-ID": "trace:abc/123"})
    events = api.ok(api.get("/v1/events?spec=cid"))["events"]
    assert [e["correlation_id"] for e in events] == ["trace:abc/123"]


def test_without_a_correlation_id_the_server_makes_one_and_stores_it(api: Api) -> None:
    made = []
    for action in LIFECYCLE:
        response = run(api, action, {})
        assert response.status_code in (200, 201)
        made.append(response.headers["X-Correlation-ID"])
    assert all(made) and len(set(made)) == len(made)
    assert [e["correlation_id"] for e in api.history("cid")] == made


def test_reads_echo_the_given_or_a_made_correlation_id(api: Api) -> None:
    given = api.get("/v1/specs", headers={"X-Correlation-ID": "read-1"})
    assert given.headers["X-Correlation-ID"] == "read-1"
    made = api.get("/v1/specs")
    assert uuid.UUID(made.headers["X-Correlation-ID"])


@pytest.mark.parametrize(
    ("request_kind", "status", "code"),
    [
        ("unknown-spec", 404, "SpecNotFound"),
        ("bad-json", 400, "BadRequest"),
        ("forbidden", 409, "InvalidStateTransition"),
        ("unauthenticated", 401, "Unauthenticated"),
        ("denied", 403, "PermissionDenied"),
    ],
)
def test_errors_echo_the_correlation_id_in_header_and_body(
    api: Api, request_kind: str, status: int, code: str
) -> None:
    api.create("there")
    headers = {"X-Correlation-ID": f"err-{request_kind}"}
    requests = {
        "unknown-spec": lambda: api.get("/v1/specs/ghost", headers=headers),
        "bad-json": lambda: api.post(
            "/v1/specs", data="{", content_type="application/json", headers=headers
        ),
        "forbidden": lambda: api.command("there", "deprecate", headers=headers),
        "unauthenticated": lambda: api.as_(None).get("/v1/specs", headers=headers),
        "denied": lambda: api.as_("rita").command("there", "delete", headers=headers),
    }
    response = requests[request_kind]()
    assert_error(response, status, code)
    assert response.headers["X-Correlation-ID"] == f"err-{request_kind}"
    assert response.get_json()["correlation_id"] == f"err-{request_kind}"


def test_an_error_without_a_correlation_id_gets_a_made_one(api: Api) -> None:
    response = api.get("/v1/specs/ghost")
    assert_error(response, 404, "SpecNotFound")
    assert uuid.UUID(response.get_json()["correlation_id"])


@pytest.mark.parametrize(
    "given",
    ["has spaces", "x" * 129, "tab\tinside", "", "ünïcode", "new\u2028line"],
    ids=["spaces", "129-chars", "tab", "empty", "non-ascii", "line-separator"],
)
def test_an_invalid_correlation_id_is_400_and_writes_nothing(api: Api, given: str) -> None:
    before = api.events()
    body = {"name": "cid", "type": "generic", "content": "a: 1\n"}
    response = api.post("/v1/specs", json=body, headers={"X-Correlation-ID": given})
    assert_error(response, 400, "BadRequest")
    assert response.headers["X-Correlation-ID"] != given
    assert api.events() == before


def test_a_correlation_id_of_128_visible_characters_is_accepted(api: Api) -> None:
    given = "c" * 127 + "~"
    response = run(api, "create", {"X-Correlation-ID": given})
    assert response.status_code == 201 and response.headers["X-Correlation-ID"] == given
    assert api.history("cid")[0]["correlation_id"] == given
