"""``GET /v1/specs/NAME/published`` answered in front of Flask (rest_api/direct.py) says
exactly what the Flask view says: status, headers, body, metrics and access log."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from werkzeug.test import Client, TestResponse

from rest_api.direct import DirectReads
from tests.e2e.rest.test_operations import samples, value
from tests.support.principals import token_of
from tests.support.rest import Api

SAME_ID = {"X-Correlation-ID": "direct-or-not"}
YAML_FIRST = "application/json;q=0.5, application/yaml"


def both(app: Flask, path: str, headers: dict[str, str]) -> tuple[TestResponse, TestResponse]:
    """The answer through the app's WSGI entry, and Flask's own answer."""
    direct = app.wsgi_app
    assert isinstance(direct, DirectReads)
    return Client(direct).get(path, headers=headers), Client(direct.flask).get(
        path, headers=headers
    )


def assert_same(answers: tuple[TestResponse, TestResponse]) -> TestResponse:
    direct, flask = answers
    assert direct.status == flask.status
    assert sorted(direct.headers.items()) == sorted(flask.headers.items())
    assert direct.get_data() == flask.get_data()
    return direct


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"Accept": "application/yaml"},
        {"Accept": "application/json"},
        {"Accept": "*/*"},
        {"Accept": YAML_FIRST},
        {"Accept": "text/html"},
    ],
)
@pytest.mark.parametrize("principal", ["rita", "ada"])
def test_direct_answers_are_the_flask_views_to_the_byte(
    app: Flask, api: Api, principal: str, extra: dict[str, str]
) -> None:
    api.create("same", "a: 1\n")
    api.ok(api.command("same", "publish"))
    headers = {"Authorization": f"Bearer {token_of(principal)}", **SAME_ID, **extra}
    path = "/v1/specs/same/published"
    assert assert_same(both(app, path, headers)).status_code == 200
    api.ok(api.update("same", "a: 2\n"))
    api.ok(api.command("same", "publish"))
    api.ok(api.command("same", "deprecate"))
    answer = assert_same(both(app, path, headers))
    assert answer.headers["Deprecation"] == "true"


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/v1/specs/ghost/published", {}, 404),  # not found
        ("/v1/specs/draft/published", {}, 404),  # never published
        ("/v1/specs/same/published", {"Authorization": "Bearer nope"}, 401),
        ("/v1/specs/same/published", {"Authorization": ""}, 401),
        ("/v1/specs/same/published", {"X-Min-Position": "x"}, 400),
        ("/v1/specs/same/published?as_of=now", {}, 400),
        ("/v1/specs/same/published?", {}, 200),
        ("/v1/specs/s%C3%A9/published", {}, 404),
        ("/v1/specs//published", {}, 308),  # Flask's redirect to the merged slashes
    ],
)
def test_what_is_not_answered_directly_is_answered_by_flask(
    app: Flask, api: Api, path: str, headers: dict[str, str], status: int
) -> None:
    api.create("same")
    api.ok(api.command("same", "publish"))
    api.create("draft")
    sent = {"Authorization": f"Bearer {token_of('rita')}", **SAME_ID, **headers}
    direct, flask = both(app, path, sent)
    assert direct.status_code == status
    assert direct.status == flask.status and direct.get_data() == flask.get_data()
    assert sorted(direct.headers.items()) == sorted(flask.headers.items())


def test_a_malformed_correlation_id_is_answered_by_flask(app: Flask, api: Api) -> None:
    api.create("same")
    api.ok(api.command("same", "publish"))
    sent = {"Authorization": f"Bearer {token_of('rita')}", "X-Correlation-ID": "a b"}
    for answer in both(app, "/v1/specs/same/published", sent):
        assert answer.status_code == 400
        body = answer.get_json()
        assert body["error"]["code"] == "BadRequest"
        assert body["correlation_id"] == answer.headers["X-Correlation-ID"] != "a b"


def test_direct_answers_are_counted_and_logged_once(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    route = {"api": "rest", "route": "/v1/specs/<name>/published", "method": "GET"}
    api.create("counted")
    api.ok(api.command("counted", "publish"))
    before = samples(api)
    with caplog.at_level(logging.INFO, logger="specsvc.access"):
        api.ok(api.get("/v1/specs/counted/published", headers=SAME_ID))
        api.get("/v1/specs/uncounted/published")
    after = samples(api)
    for status in ("200", "404"):
        labels = {**route, "status": status}
        count = value(after, "specsvc_requests_total", **labels)
        assert count - value(before, "specsvc_requests_total", **labels) == pytest.approx(1)
    logged = [r for r in caplog.records if r.name == "specsvc.access"]
    assert [(r.route, r.method, r.status, r.actor) for r in logged] == [
        (route["route"], "GET", 200, "ada"),
        (route["route"], "GET", 404, "ada"),
    ]
    assert logged[0].correlation_id == SAME_ID["X-Correlation-ID"]
    assert logged[0].duration_ms >= 0


def test_the_plain_read_never_reaches_flask(
    app: Flask, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.create("plain")
    api.ok(api.command("plain", "publish"))
    direct = app.wsgi_app
    assert isinstance(direct, DirectReads)

    def refuse(environ: dict, start_response: object) -> list[bytes]:
        raise AssertionError(f"Flask was asked for {environ['PATH_INFO']}")

    monkeypatch.setattr(direct, "flask", refuse)
    sent = {"Authorization": f"Bearer {token_of('rita')}", "Accept": "application/yaml"}
    answer = Client(direct).get("/v1/specs/plain/published", headers=sent)
    assert answer.status_code == 200 and answer.get_data() == b"a: 1\n"
