"""Every REST endpoint: its happy path and each of its errors."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from tests.support.rest import EVENT_FIELDS, OTHER_RULES, RULES, SPEC_FIELDS, Api, assert_error
from tests.support.stores import open_service

RFC3339_UTC = "%Y-%m-%dT%H:%M:%S.%fZ"


def is_rfc3339_utc(text: str) -> bool:
    return text.endswith("Z") and datetime.fromisoformat(text).tzinfo is not None


def now() -> str:
    return datetime.now(UTC).strftime(RFC3339_UTC)


def pause() -> None:
    # Timestamps must differ between writes for as_of to tell them apart.
    time.sleep(0.01)


def names(listing: dict) -> list[str]:
    return [summary["name"] for summary in listing["specs"]]


# --- create -------------------------------------------------------------------------------


def test_create_answers_201_with_location_etag_and_every_spec_field(api: Api) -> None:
    content = "# kept verbatim\nowner:   team-a   # spacing too\n"
    response = api.post(
        "/v1/specs", json={"name": "billing.rules-1", "type": "generic", "content": content}
    )
    spec = api.ok(response, 201)
    assert response.headers["Location"] == "/v1/specs/billing.rules-1"
    assert response.headers["ETag"] == '"1"'
    assert set(spec) >= SPEC_FIELDS
    assert uuid.UUID(spec["id"]).version == 5
    assert spec["name"] == "billing.rules-1" and spec["type"] == "generic"
    assert spec["state"] == "draft" and spec["version"] == 1 and spec["revision"] == 1
    assert spec["published_version"] is None and spec["has_unpublished_changes"] is True
    assert spec["content"] == content
    assert spec["content_sha256"] == hashlib.sha256(content.encode()).hexdigest()
    assert spec["created_by"] == spec["updated_by"] == "ada"
    assert is_rfc3339_utc(spec["created_at"]) and is_rfc3339_utc(spec["updated_at"])


def test_the_same_name_gets_the_same_id_in_every_store(api: Api, tmp_path: Path) -> None:
    first = api.create("same-name")
    other = open_service("memory", tmp_path / "other")
    try:
        again = other.create_spec("same-name", "generic", "b: 2\n", actor="zed")
    finally:
        other.close()
    assert first["id"] == again["id"]
    assert api.create("other-name")["id"] != first["id"]


def test_create_with_a_taken_name_is_409_spec_already_exists(api: Api) -> None:
    api.create("taken")
    before = api.events()
    response = api.post("/v1/specs", json={"name": "taken", "type": "generic", "content": "b: 2"})
    assert assert_error(response, 409, "SpecAlreadyExists")["details"] == {"name": "taken"}
    assert api.events() == before


def test_a_deleted_spec_keeps_its_name_reserved(api: Api) -> None:
    api.create("reserved")
    api.ok(api.command("reserved", "delete"))
    response = api.post(
        "/v1/specs", json={"name": "reserved", "type": "generic", "content": "a: 1"}
    )
    assert_error(response, 409, "SpecAlreadyExists")


def test_create_with_content_invalid_for_its_type_lists_every_problem(api: Api) -> None:
    content = "rule: {field: email}\ndescription: 5\n"
    response = api.post("/v1/specs", json={"name": "r", "type": "regex-rules", "content": content})
    error = assert_error(response, 422, "ValidationError")
    paths = {problem["path"] for problem in error["details"]["errors"]}
    assert {"/description", "/rule"} <= paths
    assert_error(api.get("/v1/specs/r"), 404, "SpecNotFound")


def test_create_without_a_reason_is_accepted(api: Api) -> None:
    api.create("no-reason")
    assert api.history("no-reason")[0]["reason"] is None


def test_create_records_the_reason_when_given(api: Api) -> None:
    body = {"name": "why", "type": "generic", "content": "a: 1", "reason": "  first cut  "}
    api.ok(api.post("/v1/specs", json=body), 201)
    assert api.history("why")[0]["reason"] == "first cut"


# --- list ---------------------------------------------------------------------------------


@pytest.fixture
def catalogue(api: Api) -> Api:
    """charlie (regex-rules, published), alpha and bravo (generic drafts), delta deleted."""
    api.create("charlie", RULES, "regex-rules")
    api.ok(api.command("charlie", "publish"))
    api.create("bravo")
    api.create("alpha")
    api.create("delta")
    api.ok(api.command("delta", "delete"))
    return api


def test_list_is_ordered_by_name_without_content_or_deleted_specs(catalogue: Api) -> None:
    listing = catalogue.ok(catalogue.get("/v1/specs"))
    assert names(listing) == ["alpha", "bravo", "charlie"]
    assert listing["next_page_token"] is None
    for summary in listing["specs"]:
        assert set(summary) == SPEC_FIELDS - {"content"}


def test_list_summary_matches_the_spec(catalogue: Api) -> None:
    summary = catalogue.ok(catalogue.get("/v1/specs?name_prefix=charlie"))["specs"][0]
    spec = catalogue.ok(catalogue.get("/v1/specs/charlie"))
    assert summary == {key: value for key, value in spec.items() if key != "content"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=draft", ["alpha", "bravo"]),
        ("state=published", ["charlie"]),
        ("state=deleted", ["delta"]),
        ("state=deprecated", []),
        ("type=regex-rules", ["charlie"]),
        ("type=generic", ["alpha", "bravo"]),
        ("name_prefix=b", ["bravo"]),
        ("name_prefix=d", []),
        ("type=generic&name_prefix=a", ["alpha"]),
    ],
)
def test_list_filters(catalogue: Api, query: str, expected: list[str]) -> None:
    assert names(catalogue.ok(catalogue.get(f"/v1/specs?{query}"))) == expected


def test_list_pages_through_every_spec_with_next_page_token(api: Api) -> None:
    for index in range(7):
        api.create(f"page-{index}")
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        query = "/v1/specs?limit=3" + (f"&page_token={token}" if token else "")
        listing = api.ok(api.get(query))
        seen += names(listing)
        pages += 1
        token = listing["next_page_token"]
        if token is None:
            break
    assert pages == 3
    assert seen == [f"page-{index}" for index in range(7)]


def test_a_page_exactly_filled_by_the_last_specs_ends_the_listing(api: Api) -> None:
    for name in ("one", "two"):
        api.create(name)
    listing = api.ok(api.get("/v1/specs?limit=2"))
    assert names(listing) == ["one", "two"] and listing["next_page_token"] is None


def test_list_limit_accepts_its_bounds(api: Api) -> None:
    api.create("bounded")
    assert names(api.ok(api.get("/v1/specs?limit=1"))) == ["bounded"]
    assert names(api.ok(api.get("/v1/specs?limit=500"))) == ["bounded"]


@pytest.mark.parametrize("limit", ["0", "501", "-1", "abc", "1.5", ""])
def test_list_limit_out_of_bounds_is_400(api: Api, limit: str) -> None:
    assert_error(api.get(f"/v1/specs?limit={limit}"), 400, "BadRequest")


@pytest.mark.parametrize("token", ["not-a-token", "e30", "!!!", "eyJhZnRlciI6IDF9"])
def test_list_with_a_bad_page_token_is_400(api: Api, token: str) -> None:
    assert_error(api.get(f"/v1/specs?page_token={token}"), 400, "BadRequest")


def test_a_page_token_from_other_filters_is_400(api: Api) -> None:
    for index in range(3):
        api.create(f"tok-{index}")
    token = api.ok(api.get("/v1/specs?limit=1&type=generic"))["next_page_token"]
    assert token
    assert_error(api.get(f"/v1/specs?limit=1&page_token={token}"), 400, "BadRequest")


def test_list_with_an_unknown_state_is_400(api: Api) -> None:
    assert_error(api.get("/v1/specs?state=archived"), 400, "BadRequest")


# --- get and as_of ------------------------------------------------------------------------


def test_get_returns_the_spec_with_its_revision_as_etag(api: Api) -> None:
    created = api.create("got")
    response = api.get("/v1/specs/got")
    spec = api.ok(response)
    assert response.headers["ETag"] == '"1"'
    assert spec == {key: created[key] for key in spec}


def test_get_an_unknown_spec_is_404_spec_not_found(api: Api) -> None:
    assert_error(api.get("/v1/specs/nobody"), 404, "SpecNotFound")


def test_get_as_of_reads_the_spec_as_it_stood_then(api: Api) -> None:
    api.create("timely", "a: 1\n")
    pause()
    between = now()
    pause()
    api.ok(api.update("timely", "a: 2\n"))
    then = api.ok(api.get(f"/v1/specs/timely?as_of={between}"))
    assert then["version"] == 1 and then["content"] == "a: 1\n" and then["revision"] == 1
    assert api.ok(api.get("/v1/specs/timely"))["version"] == 2


def test_get_as_of_before_creation_is_404_spec_not_found(api: Api) -> None:
    api.create("young")
    assert_error(api.get("/v1/specs/young?as_of=2000-01-01T00:00:00Z"), 404, "SpecNotFound")


def test_get_as_of_in_the_future_reads_the_current_state(api: Api) -> None:
    api.create("future")
    api.ok(api.update("future", "a: 2\n"))
    later = api.ok(api.get("/v1/specs/future?as_of=2999-12-31T23:59:59Z"))
    assert later == api.ok(api.get("/v1/specs/future"))


def test_get_as_of_accepts_an_offset_and_a_fraction(api: Api) -> None:
    api.create("offset")
    spec = api.ok(api.get("/v1/specs/offset?as_of=2999-01-01T02:00:00.123456789%2B02:00"))
    assert spec["name"] == "offset"


@pytest.mark.parametrize(
    "as_of", ["yesterday", "2024-01-01", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00", "1"]
)
def test_get_with_a_malformed_as_of_is_400(api: Api, as_of: str) -> None:
    api.create("asof")
    assert_error(api.get(f"/v1/specs/asof?as_of={as_of}"), 400, "BadRequest")


# --- update -------------------------------------------------------------------------------


def test_update_makes_a_new_version(api: Api) -> None:
    api.create("upd")
    response = api.update("upd", "a: 2\n# note\n")
    spec = api.ok(response)
    assert spec["version"] == 2 and spec["revision"] == 2 and spec["state"] == "draft"
    assert spec["content"] == "a: 2\n# note\n"
    assert response.headers["ETag"] == '"2"'


def test_update_with_the_expected_version_succeeds(api: Api) -> None:
    api.create("expect")
    assert api.ok(api.update("expect", "a: 2\n", expected_version=1))["version"] == 2


def test_update_with_a_stale_expected_version_is_409_version_mismatch(api: Api) -> None:
    api.create("stale")
    api.ok(api.update("stale", "a: 2\n"))
    before = api.events()
    error = assert_error(api.update("stale", "a: 3\n", expected_version=1), 409, "VersionMismatch")
    assert error["details"]["version"] == 2
    assert api.events() == before


def test_update_of_an_unknown_spec_is_404(api: Api) -> None:
    assert_error(api.update("ghost", "a: 1\n"), 404, "SpecNotFound")


def test_update_with_content_invalid_for_its_type_is_422(api: Api) -> None:
    api.create("typed", RULES, "regex-rules")
    assert_error(api.update("typed", "rule: {nope: 1}\n"), 422, "ValidationError")


# --- publish, deprecate, delete -----------------------------------------------------------


def test_publish_defaults_to_the_latest_version(api: Api) -> None:
    api.create("pub")
    api.ok(api.update("pub", "a: 2\n"))
    spec = api.ok(api.command("pub", "publish"))
    assert spec["state"] == "published" and spec["published_version"] == 2
    assert spec["has_unpublished_changes"] is False


def test_publish_a_missing_version_is_404_version_not_found(api: Api) -> None:
    api.create("few")
    before = api.events()
    assert_error(api.command("few", "publish", version=9), 404, "VersionNotFound")
    assert api.events() == before


def test_deprecate_keeps_the_published_version(api: Api) -> None:
    api.create("dep")
    api.ok(api.command("dep", "publish"))
    spec = api.ok(api.command("dep", "deprecate"))
    assert spec["state"] == "deprecated" and spec["published_version"] == 1


def test_delete_keeps_the_spec_readable(api: Api) -> None:
    api.create("gone")
    spec = api.ok(api.command("gone", "delete"))
    assert spec["state"] == "deleted"
    assert api.ok(api.get("/v1/specs/gone"))["state"] == "deleted"
    assert len(api.ok(api.get("/v1/specs/gone/versions"))["versions"]) == 1
    assert len(api.history("gone")) == 2


def _to_state(api: Api, name: str, state: str) -> None:
    api.create(name)
    if state in ("published", "deprecated"):
        api.ok(api.command(name, "publish"))
    if state == "deprecated":
        api.ok(api.command(name, "deprecate"))
    if state == "deleted":
        api.ok(api.command(name, "delete"))


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("draft", "deprecate"),
        ("published", "delete"),
        ("deprecated", "update"),
        ("deleted", "update"),
        ("deleted", "publish"),
        ("deleted", "deprecate"),
    ],
)
def test_forbidden_transitions_are_409_invalid_state_transition(
    api: Api, state: str, action: str
) -> None:
    _to_state(api, "locked", state)
    before = api.events()
    if action == "update":
        response = api.update("locked", "changed: true\n")
    else:
        response = api.command("locked", action)
    assert_error(response, 409, "InvalidStateTransition")
    assert api.events() == before


@pytest.mark.parametrize("action", ["publish", "deprecate", "delete"])
def test_commands_on_an_unknown_spec_are_404(api: Api, action: str) -> None:
    assert_error(api.command("ghost", action), 404, "SpecNotFound")


# --- published ----------------------------------------------------------------------------


def test_published_answers_what_consumers_are_served(api: Api) -> None:
    api.create("served", RULES, "regex-rules")
    api.ok(api.command("served", "publish"))
    response = api.get("/v1/specs/served/published")
    served = api.ok(response)
    assert set(served) == {"name", "type", "version", "content", "state", "published_at"}
    assert served["name"] == "served" and served["type"] == "regex-rules"
    assert served["version"] == 1 and served["content"] == RULES
    assert served["state"] == "published" and is_rfc3339_utc(served["published_at"])
    assert "Deprecation" not in response.headers


def test_published_as_yaml_is_the_raw_text_exactly_as_stored(api: Api) -> None:
    api.create("raw", RULES, "regex-rules")
    api.ok(api.command("raw", "publish"))
    response = api.get("/v1/specs/raw/published", headers={"Accept": "application/yaml"})
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    assert response.get_data() == RULES.encode()


def test_published_of_a_deprecated_spec_adds_the_deprecation_header(api: Api) -> None:
    api.create("old")
    api.ok(api.command("old", "publish"))
    api.ok(api.command("old", "deprecate"))
    as_json = api.get("/v1/specs/old/published")
    as_yaml = api.get("/v1/specs/old/published", headers={"Accept": "application/yaml"})
    assert api.ok(as_json)["state"] == "deprecated"
    assert as_json.headers["Deprecation"] == "true"
    assert as_yaml.status_code == 200 and as_yaml.headers["Deprecation"] == "true"


def test_published_bodies_served_again_follow_every_change_of_the_spec(
    app: Flask, api: Api
) -> None:
    """Bodies are rendered once per answer and served from memory after that: each one
    is still exactly what jsonify (or the raw text) gives for the spec as it is now."""

    def read(accept: str | None = None) -> TestResponse:
        headers = {"Accept": accept} if accept else {}
        response = api.get("/v1/specs/kept/published", headers=headers)
        assert response.status_code == 200
        assert uuid.UUID(response.headers["X-Correlation-ID"]).version == 4
        return response

    def both_twice() -> tuple[TestResponse, TestResponse]:
        as_json, as_yaml = read(), read("application/yaml")
        again_json, again_yaml = read("application/json"), read("application/yaml")
        assert again_json.get_data() == as_json.get_data()
        assert again_yaml.get_data() == as_yaml.get_data()
        assert as_json.headers["X-Correlation-ID"] != again_json.headers["X-Correlation-ID"]
        with app.app_context():
            assert as_json.get_data() == app.json.response(as_json.get_json()).get_data()
        assert as_json.mimetype == "application/json" and as_yaml.mimetype == "application/yaml"
        return as_json, as_yaml

    api.create("kept", "a: 1\n")
    api.ok(api.command("kept", "publish"))
    as_json, as_yaml = both_twice()
    assert as_json.get_json()["version"] == 1 and as_yaml.get_data() == b"a: 1\n"
    assert "Deprecation" not in as_json.headers and "Deprecation" not in as_yaml.headers

    api.ok(api.update("kept", "a: 2\n"))
    assert both_twice()[1].get_data() == b"a: 1\n"  # a draft is not served
    api.ok(api.command("kept", "publish"))
    as_json, as_yaml = both_twice()
    assert as_json.get_json()["version"] == 2 and as_json.get_json()["content"] == "a: 2\n"
    assert as_yaml.get_data() == b"a: 2\n"

    api.ok(api.command("kept", "deprecate"))
    as_json, as_yaml = both_twice()
    assert as_json.get_json()["state"] == "deprecated" and as_yaml.get_data() == b"a: 2\n"
    assert as_json.headers["Deprecation"] == "true" and as_yaml.headers["Deprecation"] == "true"
    api.ok(api.command("kept", "delete"))
    assert_error(api.get("/v1/specs/kept/published"), 410, "SpecDeleted")


def test_published_of_a_never_published_spec_is_404_spec_not_published(api: Api) -> None:
    api.create("unpub")
    assert_error(api.get("/v1/specs/unpub/published"), 404, "SpecNotPublished")


@pytest.mark.parametrize("was_published", [False, True])
def test_published_of_a_deleted_spec_is_410_spec_deleted(api: Api, was_published: bool) -> None:
    api.create("bye")
    if was_published:
        api.ok(api.command("bye", "publish"))
        api.ok(api.command("bye", "deprecate"))
    api.ok(api.command("bye", "delete"))
    assert_error(api.get("/v1/specs/bye/published"), 410, "SpecDeleted")


def test_published_of_an_unknown_spec_is_404(api: Api) -> None:
    assert_error(api.get("/v1/specs/ghost/published"), 404, "SpecNotFound")


def test_published_as_of_serves_what_was_served_then(api: Api) -> None:
    api.create("hist", "a: 1\n")
    pause()
    before_publish = now()
    pause()
    api.ok(api.command("hist", "publish"))
    pause()
    first_era = now()
    pause()
    api.ok(api.update("hist", "a: 2\n"))
    api.ok(api.command("hist", "publish"))
    assert_error(
        api.get(f"/v1/specs/hist/published?as_of={before_publish}"), 404, "SpecNotPublished"
    )
    then = api.ok(api.get(f"/v1/specs/hist/published?as_of={first_era}"))
    assert then["version"] == 1 and then["content"] == "a: 1\n"
    assert api.ok(api.get("/v1/specs/hist/published"))["version"] == 2


def test_published_as_of_must_be_rfc3339(api: Api) -> None:
    api.create("p")
    assert_error(api.get("/v1/specs/p/published?as_of=now"), 400, "BadRequest")


# --- versions and diff --------------------------------------------------------------------


def test_versions_lists_every_version_with_its_metadata(api: Api) -> None:
    api.create("vers", "a: 1\n")
    api.ok(api.update("vers", "a: 22\n", reason="bigger"))
    versions = api.ok(api.get("/v1/specs/vers/versions"))["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    for entry in versions:
        assert set(entry) == {
            "version",
            "created_at",
            "created_by",
            "reason",
            "content_sha256",
            "size",
        }
    assert versions[1]["reason"] == "bigger" and versions[1]["created_by"] == "ada"
    assert versions[1]["size"] == len(b"a: 22\n")
    assert versions[1]["content_sha256"] == hashlib.sha256(b"a: 22\n").hexdigest()


def test_versions_of_an_unknown_spec_is_404(api: Api) -> None:
    assert_error(api.get("/v1/specs/ghost/versions"), 404, "SpecNotFound")


def test_one_version_as_json_and_as_raw_yaml(api: Api) -> None:
    api.create("one", "a: 1 # first\n")
    api.ok(api.update("one", "a: 2\n"))
    version = api.ok(api.get("/v1/specs/one/versions/1"))
    assert version["version"] == 1 and version["content"] == "a: 1 # first\n"
    raw = api.get("/v1/specs/one/versions/1", headers={"Accept": "application/yaml"})
    assert raw.status_code == 200 and raw.mimetype == "application/yaml"
    assert raw.get_data(as_text=True) == "a: 1 # first\n"


@pytest.mark.parametrize("version", ["abc", "1.0", "-1", "0", "x1"])
def test_a_version_that_is_not_a_positive_integer_is_400(api: Api, version: str) -> None:
    api.create("v")
    assert_error(api.get(f"/v1/specs/v/versions/{version}"), 400, "BadRequest")


def test_a_missing_version_is_404_version_not_found(api: Api) -> None:
    api.create("v")
    assert_error(api.get("/v1/specs/v/versions/2"), 404, "VersionNotFound")


def test_diff_gives_the_unified_diff_and_changed_paths(api: Api) -> None:
    api.create("dif", "a: 1\nb: 2\n")
    api.ok(api.update("dif", "a: 2\nc: 3\n"))
    diff = api.ok(api.get("/v1/specs/dif/diff?from=1&to=2"))
    assert diff["from"] == 1 and diff["to"] == 2
    assert "-a: 1\n" in diff["diff"] and "+c: 3\n" in diff["diff"]
    assert sorted((c["op"], c["path"]) for c in diff["changes"]) == [
        ("add", "/c"),
        ("remove", "/b"),
        ("replace", "/a"),
    ]


def test_diff_as_text_is_the_raw_unified_diff(api: Api) -> None:
    api.create("dif", "a: 1\n")
    api.ok(api.update("dif", "a: 2\n"))
    as_json = api.ok(api.get("/v1/specs/dif/diff?from=1&to=2"))
    raw = api.get("/v1/specs/dif/diff?from=1&to=2", headers={"Accept": "text/x-diff"})
    assert raw.status_code == 200 and raw.mimetype == "text/x-diff"
    assert raw.get_data(as_text=True) == as_json["diff"]


@pytest.mark.parametrize("query", ["", "?from=1", "?to=1", "?from=a&to=1", "?from=1&to=1&x=2"])
def test_diff_needs_integer_from_and_to(api: Api, query: str) -> None:
    api.create("dif")
    assert_error(api.get(f"/v1/specs/dif/diff{query}"), 400, "BadRequest")


def test_diff_with_a_missing_version_is_404(api: Api) -> None:
    api.create("dif")
    assert_error(api.get("/v1/specs/dif/diff?from=1&to=3"), 404, "VersionNotFound")


# --- history ------------------------------------------------------------------------------


def test_history_lists_every_event_oldest_first(api: Api) -> None:
    api.create("story")
    api.ok(api.update("story", "a: 2\n", reason="second"))
    api.ok(api.command("story", "publish", reason="ship"))
    events = api.history("story")
    assert [e["event"] for e in events] == ["SpecCreated", "SpecUpdated", "SpecStateChanged"]
    assert [e["sequence"] for e in events] == [1, 2, 3]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and len(set(positions)) == 3
    for event in events:
        assert set(event) == EVENT_FIELDS
        assert event["spec"] == "story" and event["actor"] == "ada"
        assert is_rfc3339_utc(event["timestamp"])
    assert events[1]["version"] == 2 and events[1]["reason"] == "second"
    changed = events[2]
    assert (changed["from_state"], changed["to_state"]) == ("draft", "published")
    assert changed["published_version"] == 2 and changed["reason"] == "ship"


def test_history_of_an_unknown_spec_is_404(api: Api) -> None:
    assert_error(api.get("/v1/specs/ghost/history"), 404, "SpecNotFound")


# --- evaluate -----------------------------------------------------------------------------


@pytest.fixture
def rules(api: Api) -> Api:
    """A regex-rules spec: version 1 (published) wants example.com, version 2 other.org."""
    api.create("signup", RULES, "regex-rules")
    api.ok(api.command("signup", "publish"))
    api.ok(api.update("signup", OTHER_RULES))
    return api


def evaluate(api: Api, name: str, **body: object):
    return api.post(f"/v1/specs/{name}/evaluate", json=body)


def test_evaluate_uses_the_published_version_by_default(rules: Api) -> None:
    outcome = rules.ok(evaluate(rules, "signup", input={"email": "me@example.com"}))
    assert outcome["result"] is True and outcome["version"] == 1
    assert isinstance(outcome["trace"], list) and outcome["trace"]


def test_evaluate_an_explicit_version(rules: Api) -> None:
    outcome = rules.ok(evaluate(rules, "signup", input={"email": "me@example.com"}, version=2))
    assert outcome["result"] is False and outcome["version"] == 2
    other = rules.ok(evaluate(rules, "signup", input={"email": "me@other.org"}, version=2))
    assert other["result"] is True


def test_evaluate_a_never_published_spec_uses_the_latest(api: Api) -> None:
    api.create("draft-rules", RULES, "regex-rules")
    api.ok(api.update("draft-rules", OTHER_RULES))
    outcome = api.ok(evaluate(api, "draft-rules", input={"email": "x@other.org"}))
    assert (outcome["result"], outcome["version"]) == (True, 2)


def test_evaluate_a_missing_field_is_false(rules: Api) -> None:
    assert rules.ok(evaluate(rules, "signup", input={}))["result"] is False


def test_evaluate_a_type_that_is_not_regex_rules_is_422(api: Api) -> None:
    api.create("plain")
    assert_error(evaluate(api, "plain", input={"a": 1}), 422, "ValidationError")


@pytest.mark.parametrize("given", [[1], "text", 5, True])
def test_evaluate_input_that_is_not_an_object_is_400(rules: Api, given: object) -> None:
    assert_error(evaluate(rules, "signup", input=given), 400, "BadRequest")


def test_evaluate_a_missing_version_is_404(rules: Api) -> None:
    assert_error(evaluate(rules, "signup", input={}, version=7), 404, "VersionNotFound")


def test_evaluate_an_unknown_spec_is_404(api: Api) -> None:
    assert_error(evaluate(api, "ghost", input={}), 404, "SpecNotFound")


def test_evaluate_writes_nothing(rules: Api) -> None:
    before = rules.events()
    rules.ok(evaluate(rules, "signup", input={"email": "a@example.com"}))
    assert rules.events() == before


# --- the global audit log -----------------------------------------------------------------


@pytest.fixture
def log(api: Api) -> Api:
    """Five events: alpha by ada (create, update, publish), beta by alice (create, update)."""
    api.create("alpha")
    api.ok(api.update("alpha", "a: 2\n"))
    api.ok(api.command("alpha", "publish"))
    author = api.as_("alice")
    author.create("beta")
    author.ok(author.update("beta", "b: 2\n"))
    return api


def audit(api: Api, query: str = "") -> dict:
    return api.ok(api.get(f"/v1/events{query}"))


def test_events_are_in_commit_order_with_every_field(log: Api) -> None:
    page = audit(log)
    events = page["events"]
    assert [(e["spec"], e["event"]) for e in events] == [
        ("alpha", "SpecCreated"),
        ("alpha", "SpecUpdated"),
        ("alpha", "SpecStateChanged"),
        ("beta", "SpecCreated"),
        ("beta", "SpecUpdated"),
    ]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and len(set(positions)) == 5
    assert all(set(e) == EVENT_FIELDS for e in events)
    assert page["next_after"] == positions[-1]


def test_events_after_a_position_and_limit_page_through_the_log(log: Api) -> None:
    everything = [e["position"] for e in audit(log)["events"]]
    first = audit(log, "?limit=2")
    assert [e["position"] for e in first["events"]] == everything[:2]
    assert first["next_after"] == everything[1]
    rest = audit(log, f"?after={first['next_after']}")
    assert [e["position"] for e in rest["events"]] == everything[2:]


def test_events_after_the_end_return_none_and_next_after_is_after(log: Api) -> None:
    last = audit(log)["next_after"]
    page = audit(log, f"?after={last}")
    assert page == {"events": [], "next_after": last}


def test_events_filter_by_actor_and_spec(log: Api) -> None:
    by_alice = audit(log, "?actor=alice")["events"]
    assert {e["spec"] for e in by_alice} == {"beta"} and len(by_alice) == 2
    alpha = audit(log, "?spec=alpha")["events"]
    assert [e["event"] for e in alpha] == ["SpecCreated", "SpecUpdated", "SpecStateChanged"]
    assert audit(log, "?spec=alpha&actor=alice")["events"] == []
    assert audit(log, "?spec=nothing-here")["events"] == []


def test_events_filter_by_since_and_until(log: Api) -> None:
    events = audit(log)["events"]
    third = events[2]["timestamp"]
    since = [e["position"] for e in audit(log, f"?since={third}")["events"]]
    until = [e["position"] for e in audit(log, f"?until={third}")["events"]]
    positions = [e["position"] for e in events]
    assert positions[2] in since and positions[2] in until
    assert set(since) | set(until) == set(positions)
    assert positions[0] not in since and positions[-1] not in until
    assert audit(log, "?until=2000-01-01T00:00:00Z")["events"] == []
    assert audit(log, "?since=2999-01-01T00:00:00Z")["events"] == []


@pytest.mark.parametrize(
    "query", ["?limit=0", "?limit=501", "?after=-1", "?after=x", "?since=today", "?until=1"]
)
def test_events_with_bad_query_values_are_400(log: Api, query: str) -> None:
    assert_error(log.get(f"/v1/events{query}"), 400, "BadRequest")


# --- validate and types -------------------------------------------------------------------


def test_validate_valid_content(api: Api) -> None:
    result = api.ok(api.post("/v1/validate", json={"type": "regex-rules", "content": RULES}))
    assert result == {"valid": True, "errors": []}


def test_validate_invalid_content_lists_its_errors_and_writes_nothing(api: Api) -> None:
    before = api.events()
    content = "rule: {field: email}\ndescription: 5\n"
    result = api.ok(api.post("/v1/validate", json={"type": "regex-rules", "content": content}))
    assert result["valid"] is False
    assert {"/description", "/rule"} <= {e["path"] for e in result["errors"]}
    assert all(set(e) == {"path", "message"} for e in result["errors"])
    assert api.events() == before


def test_validate_unparseable_yaml_is_not_valid(api: Api) -> None:
    result = api.ok(api.post("/v1/validate", json={"type": "generic", "content": "a: [\n"}))
    assert result["valid"] is False and result["errors"]


def test_validate_an_unknown_type_is_422(api: Api) -> None:
    response = api.post("/v1/validate", json={"type": "no-such-type", "content": "a: 1"})
    assert_error(response, 422, "ValidationError")


def test_types_lists_the_built_in_types_with_their_schemas(api: Api) -> None:
    types = {t["name"]: t for t in api.ok(api.get("/v1/types"))["types"]}
    assert {"generic", "regex-rules", "approval-workflow"} <= set(types)
    assert types["regex-rules"]["schema"]["required"] == ["rule"]
    assert "2020-12" in types["generic"]["schema"]["$schema"]


def test_one_type_with_its_schema(api: Api) -> None:
    one = api.ok(api.get("/v1/types/approval-workflow"))
    assert one["name"] == "approval-workflow" and "steps" in one["schema"]["required"]


def test_an_unknown_type_is_404_type_not_found(api: Api) -> None:
    assert_error(api.get("/v1/types/no-such-type"), 404, "TypeNotFound")


def test_an_unknown_route_is_404_in_the_error_shape(api: Api) -> None:
    assert_error(api.get("/v1/nothing"), 404, "NotFound")


def test_a_wrong_method_is_405_in_the_error_shape(api: Api) -> None:
    response = api.call("DELETE", "/v1/specs")
    assert_error(response, 405, "MethodNotAllowed")
    assert "GET" in response.headers["Allow"]


def test_a_deleted_spec_keeps_every_version_diff_and_its_past_publication(api: Api) -> None:
    api.create("retired", "a: 1\n")
    api.ok(api.command("retired", "publish"))
    pause()
    while_published = now()
    pause()
    api.ok(api.command("retired", "deprecate"))
    api.ok(api.command("retired", "delete"))
    assert api.ok(api.get("/v1/specs/retired/versions/1"))["content"] == "a: 1\n"
    assert api.ok(api.get("/v1/specs/retired/diff?from=1&to=1"))["changes"] == []
    then = api.ok(api.get(f"/v1/specs/retired/published?as_of={while_published}"))
    assert (then["state"], then["version"]) == ("published", 1)
    assert_error(api.get("/v1/specs/retired/published"), 410, "SpecDeleted")
