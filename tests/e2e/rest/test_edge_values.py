"""Header, path and query values at the edges: odd digits, empty tags, leap seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from rest_api import create_app
from specsvc import SpecService

RULES = "rule: {field: email, matches: '@example\\.com$'}\n"


@pytest.fixture
def client() -> Iterator[FlaskClient]:
    service = SpecService.open()
    service.create_spec("rules", "regex-rules", RULES, actor="alice")
    yield create_app(service).test_client()
    service.close()


@pytest.mark.parametrize("tag", ['""', '"7", ""', '"²"', '"' + "9" * 5000 + '"', 'W/"1"'])
def test_if_match_values_no_revision_can_have_are_412(client: FlaskClient, tag: str) -> None:
    response = client.post(
        "/v1/specs/rules/deprecate", json={"reason": "r"}, headers={"If-Match": tag}
    )
    assert response.status_code == 412
    assert response.json["error"]["code"] == "PreconditionFailed"
    assert client.get("/v1/specs/rules").json["revision"] == 1


@pytest.mark.parametrize("path", ["/v1/specs/rules/versions/²", "/v1/specs/rules/versions/\u0661"])
def test_non_ascii_digits_in_a_path_are_400(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 400


@pytest.mark.parametrize("query", ["limit=\u0661", "limit=²", "after=\u0663"])
def test_non_ascii_digits_in_a_query_are_400(client: FlaskClient, query: str) -> None:
    path = "/v1/events" if query.startswith("after") else "/v1/specs"
    assert client.get(f"{path}?{query}").status_code == 400


def test_evaluate_version_zero_is_400(client: FlaskClient) -> None:
    response = client.post("/v1/specs/rules/evaluate", json={"input": {}, "version": 0})
    assert (response.status_code, response.json["error"]["code"]) == (400, "BadRequest")


@pytest.mark.parametrize(
    "instant", ["2999-12-31T23:59:60Z", "2999-01-01T00:00:00.1234567891Z", "2999-01-01t00:00:00z"]
)
def test_any_valid_rfc3339_instant_is_accepted(client: FlaskClient, instant: str) -> None:
    response = client.get(f"/v1/specs/rules?as_of={instant}")
    assert (response.status_code, response.json["name"]) == (200, "rules")
