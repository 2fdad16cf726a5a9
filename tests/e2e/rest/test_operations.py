"""Operations endpoints: liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.rest import Api, assert_error


def samples(api: Api) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics, keyed by name and labels."""
    response = api.as_(None).get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def test_healthz_is_200(api: Api) -> None:
    response = api.as_(None).get("/healthz")
    assert response.status_code == 200


def test_readyz_is_200_with_projections_caught_up(api: Api) -> None:
    api.create("ready")
    api.ok(api.update("ready", "b: 2\n"))
    response = api.as_(None).get("/readyz")
    assert response.status_code == 200
    projections = response.get_json()["projections"]
    assert projections["caught_up"] is True and projections["lag"] == 0


def test_requests_are_counted_by_route_method_and_status(api: Api) -> None:
    route = {"api": "rest", "route": "/v1/specs/<name>", "method": "GET"}
    before = samples(api)
    api.create("counted")
    api.ok(api.get("/v1/specs/counted"))
    api.ok(api.get("/v1/specs/counted"))
    assert_error(api.get("/v1/specs/missing"), 404, "SpecNotFound")
    after = samples(api)
    ok, missing = {**route, "status": "200"}, {**route, "status": "404"}
    assert value(after, "specsvc_requests_total", **ok) - value(
        before, "specsvc_requests_total", **ok
    ) == pytest.approx(2)
    assert value(after, "specsvc_requests_total", **missing) - value(
        before, "specsvc_requests_total", **missing
    ) == pytest.approx(1)
    created = {"api": "rest", "route": "/v1/specs", "method": "POST", "status": "201"}
    assert value(after, "specsvc_requests_total", **created) >= 1


def test_request_durations_are_a_histogram(api: Api) -> None:
    api.create("timed")
    scraped = samples(api)
    labels = {"api": "rest", "route": "/v1/specs", "method": "POST", "status": "201"}
    count = value(scraped, "specsvc_request_duration_seconds_count", **labels)
    assert count >= 1
    assert value(scraped, "specsvc_request_duration_seconds_sum", **labels) > 0
    infinite = value(scraped, "specsvc_request_duration_seconds_bucket", **labels, le="+Inf")
    assert infinite == count


def test_commands_are_counted_by_command_and_outcome(api: Api) -> None:
    before = samples(api)
    api.create("cmd")
    assert_error(api.command("cmd", "deprecate"), 409, "InvalidStateTransition")
    assert_error(api.command("ghost", "publish"), 404, "SpecNotFound")
    api.ok(api.command("cmd", "publish"))
    after = samples(api)

    def delta(command: str, outcome: str) -> float:
        labels = {"command": command, "outcome": outcome}
        return value(after, "specsvc_commands_total", **labels) - value(
            before, "specsvc_commands_total", **labels
        )

    assert delta("create", "ok") == pytest.approx(1)
    assert delta("deprecate", "InvalidStateTransition") == pytest.approx(1)
    assert delta("publish", "SpecNotFound") == pytest.approx(1)
    assert delta("publish", "ok") == pytest.approx(1)


def test_projection_lag_is_exposed_and_zero_after_writes(api: Api) -> None:
    api.create("lagless")
    scraped = samples(api)
    assert ("specsvc_projection_lag_events", frozenset()) in scraped
    assert value(scraped, "specsvc_projection_lag_events") == 0


def test_metrics_is_prometheus_text_with_help_and_type(api: Api) -> None:
    api.create("typed")
    text = api.as_(None).get("/metrics").get_data(as_text=True)
    for name, kind in [
        ("specsvc_requests_total", "counter"),
        ("specsvc_request_duration_seconds", "histogram"),
        ("specsvc_commands_total", "counter"),
        ("specsvc_projection_lag_events", "gauge"),
    ]:
        assert re.search(rf"^# TYPE {name} {kind}$", text, re.MULTILINE), name
        assert re.search(rf"^# HELP {name} \S", text, re.MULTILINE), name


def test_openapi_is_an_openapi_3_1_document(api: Api) -> None:
    document = api.ok(api.as_(None).get("/openapi.json"))
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"]


# Written out from docs/behaviour.md, in OpenAPI's path-template spelling.
DOCUMENTED_PATHS = {
    "/v1/specs": {"get", "post"},
    "/v1/specs/{name}": {"get"},
    "/v1/specs/{name}/content": {"put"},
    "/v1/specs/{name}/publish": {"post"},
    "/v1/specs/{name}/deprecate": {"post"},
    "/v1/specs/{name}/delete": {"post"},
    "/v1/specs/{name}/published": {"get"},
    "/v1/specs/{name}/versions": {"get"},
    "/v1/specs/{name}/versions/{version}": {"get"},
    "/v1/specs/{name}/diff": {"get"},
    "/v1/specs/{name}/history": {"get"},
    "/v1/specs/{name}/evaluate": {"post"},
    "/v1/events": {"get"},
    "/v1/validate": {"post"},
    "/v1/types": {"get"},
    "/v1/types/{type}": {"get"},
    "/healthz": {"get"},
    "/readyz": {"get"},
    "/metrics": {"get"},
    "/openapi.json": {"get"},
}


def _template(path: str) -> str:
    # Parameter names are the document's choice; compare the shape of each path.
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_openapi_documents_every_documented_endpoint(api: Api) -> None:
    paths = api.ok(api.as_(None).get("/openapi.json")).get("paths", {})
    documented = {_template(path): {m.lower() for m in ops} for path, ops in paths.items()}
    missing = {
        path: methods - documented.get(_template(path), set())
        for path, methods in DOCUMENTED_PATHS.items()
        if methods - documented.get(_template(path), set())
    }
    assert missing == {}
