"""Read-your-writes: once a write has answered, list, published and history reflect it."""

from __future__ import annotations

from flask import Flask

from specsvc import SpecService
from tests.support.principals import JwtKeys
from tests.support.rest import Api, assert_error, build_app


def summary(api: Api, name: str) -> dict:
    specs = api.ok(api.get(f"/v1/specs?name_prefix={name}&state={state_of(api, name)}"))["specs"]
    assert [s["name"] for s in specs] == [name]
    return specs[0]


def state_of(api: Api, name: str) -> str:
    return api.ok(api.get(f"/v1/specs/{name}"))["state"]


def event_names(api: Api, name: str) -> list[str]:
    return [e["event"] for e in api.history(name)]


def test_every_write_is_visible_to_the_next_read(api: Api) -> None:
    created = api.create("ryw", "a: 1\n")
    assert summary(api, "ryw")["revision"] == created["revision"] == 1
    assert event_names(api, "ryw") == ["SpecCreated"]
    assert_error(api.get("/v1/specs/ryw/published"), 404, "SpecNotPublished")

    updated = api.ok(api.update("ryw", "a: 2\n"))
    assert summary(api, "ryw")["version"] == updated["version"] == 2
    assert event_names(api, "ryw")[-1] == "SpecUpdated"

    api.ok(api.command("ryw", "publish"))
    assert summary(api, "ryw")["state"] == "published"
    served = api.ok(api.get("/v1/specs/ryw/published"))
    assert (served["version"], served["content"]) == (2, "a: 2\n")
    assert len(api.history("ryw")) == 3

    api.ok(api.update("ryw", "a: 3\n"))
    assert summary(api, "ryw")["has_unpublished_changes"] is True
    assert api.ok(api.get("/v1/specs/ryw/published"))["version"] == 2

    api.ok(api.command("ryw", "publish", version=3))
    assert api.ok(api.get("/v1/specs/ryw/published"))["content"] == "a: 3\n"

    api.ok(api.command("ryw", "deprecate"))
    assert summary(api, "ryw")["state"] == "deprecated"
    deprecated = api.get("/v1/specs/ryw/published")
    assert deprecated.headers["Deprecation"] == "true"

    api.ok(api.command("ryw", "delete"))
    assert summary(api, "ryw")["state"] == "deleted"
    assert api.ok(api.get("/v1/specs"))["specs"] == []
    assert_error(api.get("/v1/specs/ryw/published"), 410, "SpecDeleted")
    assert event_names(api, "ryw")[-1] == "SpecStateChanged"
    assert len(api.history("ryw")) == 7


def audit_events(api: Api) -> list[str]:
    return [e["event"] for e in api.ok(api.get("/v1/events?spec=audited"))["events"]]


def test_the_audit_log_reflects_each_write_at_once(api: Api) -> None:
    api.create("audited")
    assert audit_events(api) == ["SpecCreated"]
    api.ok(api.update("audited", "b: 1\n"))
    assert audit_events(api) == ["SpecCreated", "SpecUpdated"]
    api.ok(api.command("audited", "publish"))
    assert audit_events(api) == ["SpecCreated", "SpecUpdated", "SpecStateChanged"]


def test_a_second_app_on_the_same_service_sees_the_write(
    app: Flask, service: SpecService, jwt_keys: JwtKeys
) -> None:
    writer = Api(app.test_client(), service)
    reader = Api(build_app(service, jwt_keys).test_client(), service, "rita")
    writer.create("shared")
    writer.ok(writer.command("shared", "publish"))
    assert reader.ok(reader.get("/v1/specs/shared/published"))["version"] == 1
    assert [s["name"] for s in reader.ok(reader.get("/v1/specs"))["specs"]] == ["shared"]


def test_another_instance_on_the_same_sqlite_file_sees_the_write_at_once(
    service: SpecService, jwt_keys: JwtKeys
) -> None:
    assert service.settings.db
    other = SpecService.open(service.settings.db, settings=service.settings)
    try:
        writer = Api(build_app(service, jwt_keys).test_client(), service)
        reader = Api(build_app(other, jwt_keys).test_client(), other, "rita")
        writer.create("across", "a: 1\n")
        writer.ok(writer.command("across", "publish"))
        assert reader.ok(reader.get("/v1/specs/across/published"))["content"] == "a: 1\n"
        writer.ok(writer.update("across", "a: 2\n"))
        assert reader.ok(reader.get("/v1/specs?name_prefix=across"))["specs"][0]["version"] == 2
        assert len(reader.history("across")) == 3
    finally:
        other.close()


def test_a_read_asks_for_a_position_with_x_min_position(api: Api) -> None:
    created = api.create("ryw-pos", "a: 1\n")
    position = str(created["position"])
    for path in (
        "/v1/specs",
        "/v1/specs/ryw-pos",
        "/v1/specs/ryw-pos/versions",
        "/v1/specs/ryw-pos/versions/1",
        "/v1/specs/ryw-pos/history",
        "/v1/specs/ryw-pos/diff?from=1&to=1",
        "/v1/events",
    ):
        assert api.get(path, headers={"X-Min-Position": position}).status_code == 200, path
    # A position no write has answered yet is the caller's mistake, said at once.
    past = api.get("/v1/specs", headers={"X-Min-Position": str(created["position"] + 50)})
    error = assert_error(past, 400, "BadRequest")
    assert error["details"]["last_position"] == created["position"]


def test_a_malformed_x_min_position_is_a_bad_request(api: Api) -> None:
    api.create("ryw-bad", "a: 1\n")
    for bad in ("-1", "1.5", "one", "", "99999999999999999999", "0x10"):
        response = api.get("/v1/specs/ryw-bad/history", headers={"X-Min-Position": bad})
        error = assert_error(response, 400, "BadRequest")
        assert "X-Min-Position" in error["message"], bad
