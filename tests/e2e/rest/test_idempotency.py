"""Idempotency keys over REST: the header, replayed answers and the error for reuse."""

from __future__ import annotations

from werkzeug.test import TestResponse

from tests.support.rest import Api, assert_error


def create(api: Api, key: str, content: str = "a: 1\n") -> TestResponse:
    body = {"name": "once", "type": "generic", "content": content}
    return api.post("/v1/specs", json=body, headers={"Idempotency-Key": key})


def test_a_retried_create_gets_the_first_answer_status_headers_and_body(api: Api) -> None:
    first = create(api, "create-once")
    count = api.events()
    again = create(api, "create-once")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    for header in ("Location", "ETag", "X-Spec-Changed"):
        assert again.headers[header] == first.headers[header]
    assert api.events() == count


def test_a_key_reused_for_another_request_is_422(api: Api) -> None:
    create(api, "k")
    count = api.events()
    assert_error(create(api, "k", "a: 2\n"), 422, "IdempotencyKeyReused")
    assert api.events() == count


def test_a_malformed_key_is_400(api: Api) -> None:
    assert_error(create(api, "x" * 129), 400, "BadRequest")
    assert api.events() == 0


def test_a_retry_that_names_the_old_revision_in_if_match_still_gets_its_answer(api: Api) -> None:
    api.create("guarded")
    headers = {"If-Match": '"1"', "Idempotency-Key": "guarded-update"}
    first = api.update("guarded", "a: 2\n", headers=headers)
    assert first.status_code == 200
    again = api.update("guarded", "a: 2\n", headers=headers)  # the revision is 2 now
    assert again.status_code == 200 and again.get_json() == first.get_json()
    stale = api.update("guarded", "a: 3\n", headers={"If-Match": '"1"'})
    assert_error(stale, 412, "PreconditionFailed")
