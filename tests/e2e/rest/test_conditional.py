"""Conditional requests: ETag, If-None-Match on reads, If-Match on every write."""

from __future__ import annotations

import pytest
from werkzeug.test import TestResponse

from tests.support.rest import Api, assert_error


@pytest.fixture
def published(api: Api) -> Api:
    """``cond`` at revision 2: created, then published."""
    api.create("cond")
    api.ok(api.command("cond", "publish"))
    return api


def write(api: Api, action: str, name: str, headers: dict[str, str]) -> TestResponse:
    if action == "update":
        return api.put(
            f"/v1/specs/{name}/content",
            json={"content": "changed: 1\n", "reason": "edit"},
            headers=headers,
        )
    return api.post(f"/v1/specs/{name}/{action}", json={"reason": "why"}, headers=headers)


# Each write aimed at a spec in a state where it succeeds.
WRITES = {
    "update": "draft",
    "publish": "draft",
    "deprecate": "published",
    "delete": "draft",
}


@pytest.fixture
def targets(api: Api) -> Api:
    """``draft`` at revision 2 (created, updated); ``published`` at revision 2."""
    api.create("draft")
    api.ok(api.update("draft", "b: 2\n"))
    api.create("published")
    api.ok(api.command("published", "publish"))
    return api


def test_get_returns_the_revision_as_a_strong_etag(published: Api) -> None:
    response = published.get("/v1/specs/cond")
    assert response.headers["ETag"] == '"2"'
    assert published.ok(response)["revision"] == 2


def test_if_none_match_with_the_current_etag_is_304_without_a_body(published: Api) -> None:
    response = published.get("/v1/specs/cond", headers={"If-None-Match": '"2"'})
    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == '"2"'


@pytest.mark.parametrize("tag", ['"1"', '"3"', '"abc"', '"2-x"'])
def test_if_none_match_with_another_etag_is_200(published: Api, tag: str) -> None:
    response = published.get("/v1/specs/cond", headers={"If-None-Match": tag})
    assert published.ok(response)["revision"] == 2


def test_if_none_match_with_a_list_holding_the_current_etag_is_304(published: Api) -> None:
    response = published.get("/v1/specs/cond", headers={"If-None-Match": '"1", "2"'})
    assert response.status_code == 304


def test_a_write_makes_the_old_etag_stale_for_if_none_match(published: Api) -> None:
    published.ok(published.update("cond", "a: 2\n"))
    response = published.get("/v1/specs/cond", headers={"If-None-Match": '"2"'})
    assert published.ok(response)["revision"] == 3
    assert response.headers["ETag"] == '"3"'


def test_every_write_answers_the_new_etag(targets: Api) -> None:
    response = write(targets, "update", "draft", {})
    assert response.headers["ETag"] == f'"{targets.ok(response)["revision"]}"' == '"3"'


@pytest.mark.parametrize("action", list(WRITES))
def test_if_match_with_the_current_revision_lets_every_write_through(
    targets: Api, action: str
) -> None:
    name = WRITES[action]
    before = targets.events()
    response = write(targets, action, name, {"If-Match": '"2"'})
    spec = targets.ok(response)
    assert spec["revision"] == 3 and response.headers["ETag"] == '"3"'
    assert targets.events() == before + 1


@pytest.mark.parametrize("stale", ['"1"', '"3"', '"99"', '"x"', 'W/"2"'])
@pytest.mark.parametrize("action", list(WRITES))
def test_if_match_with_another_revision_is_412_and_writes_nothing(
    targets: Api, action: str, stale: str
) -> None:
    name = WRITES[action]
    spec_before = targets.ok(targets.get(f"/v1/specs/{name}"))
    before = targets.events()
    response = write(targets, action, name, {"If-Match": stale})
    assert_error(response, 412, "PreconditionFailed")
    assert targets.events() == before
    assert targets.ok(targets.get(f"/v1/specs/{name}")) == spec_before


def test_if_match_on_create_is_412_and_creates_nothing(api: Api) -> None:
    before = api.events()
    body = {"name": "conditional", "type": "generic", "content": "a: 1"}
    for tag in ('"1"', '"0"', "*"):
        response = api.post("/v1/specs", json=body, headers={"If-Match": tag})
        assert_error(response, 412, "PreconditionFailed")
    assert api.events() == before
    assert_error(api.get("/v1/specs/conditional"), 404, "SpecNotFound")


def test_if_match_on_an_unknown_spec_is_404(api: Api) -> None:
    assert_error(write(api, "update", "ghost", {"If-Match": '"1"'}), 404, "SpecNotFound")


def test_the_second_of_two_writers_with_the_same_etag_gets_412(targets: Api) -> None:
    etag = targets.get("/v1/specs/draft").headers["ETag"]
    targets.ok(write(targets, "update", "draft", {"If-Match": etag}))
    before = targets.events()
    assert_error(write(targets, "publish", "draft", {"If-Match": etag}), 412, "PreconditionFailed")
    assert targets.events() == before


def test_if_match_star_or_a_list_holding_the_current_revision_succeeds(targets: Api) -> None:
    targets.ok(write(targets, "update", "draft", {"If-Match": "*"}))
    assert targets.ok(write(targets, "publish", "draft", {"If-Match": '"1", "3"'}))["revision"] == 4


def test_a_malformed_if_match_is_412_not_a_500(targets: Api) -> None:
    before = targets.events()
    response = write(targets, "update", "draft", {"If-Match": 'garbage,,,"'})
    assert_error(response, 412, "PreconditionFailed")
    assert targets.events() == before


def test_if_none_match_star_is_304_for_an_existing_spec(published: Api) -> None:
    assert published.get("/v1/specs/cond", headers={"If-None-Match": "*"}).status_code == 304


def test_a_historical_read_carries_the_revision_it_shows(published: Api) -> None:
    response = published.get("/v1/specs/cond?as_of=2999-01-01T00:00:00Z")
    assert response.headers["ETag"] == '"2"'
