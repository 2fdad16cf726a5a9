"""JSON body fields: required ones missing, null or of the wrong JSON type are BadRequest
naming the field; optional ones may be absent or null; a missing reason stays 422."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.rest import RULES, Api, assert_error

MISSING = object()  # the field is left out of the body

# Every endpoint with a JSON body: a valid body, and the fields it requires with their type.
ENDPOINTS: dict[str, tuple[str, str, dict[str, Any], dict[str, str]]] = {
    "create": (
        "POST",
        "/v1/specs",
        {"name": "fresh", "type": "generic", "content": "a: 1\n"},
        {"name": "string", "type": "string", "content": "string"},
    ),
    "update": (
        "PUT",
        "/v1/specs/demo/content",
        {"content": "a: 2\n", "reason": "edit"},
        {"content": "string"},
    ),
    "validate": (
        "POST",
        "/v1/validate",
        {"type": "generic", "content": "a: 1\n"},
        {"type": "string", "content": "string"},
    ),
    "evaluate": ("POST", "/v1/specs/rules/evaluate", {"input": {}}, {"input": "object"}),
}
WRONG_TYPES: dict[str, list[Any]] = {
    "string": [1, 1.5, True, [], {}, ["generic"]],
    "object": [[], ["a"], "text", 5, True],
}
REQUIRED_CASES = [
    pytest.param(endpoint, field, value, id=f"{endpoint}-{field}-{label}")
    for endpoint, (_, _, _, required) in ENDPOINTS.items()
    for field, kind in required.items()
    for label, value in [
        ("missing", MISSING),
        ("null", None),
        *((f"wrong-{i}", v) for i, v in enumerate(WRONG_TYPES[kind])),
    ]
]


@pytest.fixture
def seeded(api: Api) -> Api:
    """``demo`` a generic draft, ``rules`` a regex-rules draft."""
    api.create("demo")
    api.create("rules", RULES, "regex-rules")
    return api


def send(api: Api, endpoint: str, **changes: Any) -> Any:
    method, path, valid, _ = ENDPOINTS[endpoint]
    body = {**valid, **changes}
    body = {k: v for k, v in body.items() if v is not MISSING}
    return api.call(method, path, json=body)


@pytest.mark.parametrize(("endpoint", "field", "value"), REQUIRED_CASES)
def test_a_required_field_missing_null_or_mistyped_is_400_naming_it(
    seeded: Api, endpoint: str, field: str, value: Any
) -> None:
    before = seeded.events()
    error = assert_error(send(seeded, endpoint, **{field: value}), 400, "BadRequest")
    kind = ENDPOINTS[endpoint][3][field]
    assert error["message"] == f"{field} is required and must be a JSON {kind}"
    assert error["details"]["field"] == field
    assert seeded.events() == before


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_the_valid_bodies_above_are_accepted(seeded: Api, endpoint: str) -> None:
    assert send(seeded, endpoint).status_code in (200, 201)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("type", None, "type is required and must be a JSON string"),
        ("type", 7, "type is required and must be a JSON string"),
        ("name", None, "name is required and must be a JSON string"),
    ],
)
def test_no_python_repr_in_the_message(seeded: Api, field: str, value: Any, message: str) -> None:
    error = assert_error(send(seeded, "create", **{field: value}), 400, "BadRequest")
    assert error["message"] == message
    assert "None" not in error["message"] and "'" not in error["message"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("reason", 5, "reason must be a JSON string or null"),
        ("reason", [], "reason must be a JSON string or null"),
    ],
)
def test_an_optional_field_of_the_wrong_type_is_400(
    seeded: Api, field: str, value: Any, message: str
) -> None:
    error = assert_error(send(seeded, "create", **{field: value}), 400, "BadRequest")
    assert (error["message"], error["details"]["field"]) == (message, field)


NULL_OPTIONALS = {
    "create-reason": ("POST", "/v1/specs", {**ENDPOINTS["create"][2], "reason": None}),
    "update-expected-version": (
        "PUT",
        "/v1/specs/demo/content",
        {"content": "a: 3", "reason": "r", "expected_version": None},
    ),
    "publish-version": ("POST", "/v1/specs/demo/publish", {"reason": "r", "version": None}),
    "evaluate-version": ("POST", "/v1/specs/rules/evaluate", {"input": {}, "version": None}),
}


@pytest.mark.parametrize(
    ("method", "path", "body"), list(NULL_OPTIONALS.values()), ids=list(NULL_OPTIONALS)
)
def test_an_optional_field_may_be_null(seeded: Api, method: str, path: str, body: dict) -> None:
    response = seeded.call(method, path, json=body)
    assert response.status_code in (200, 201), response.get_data(as_text=True)


@pytest.mark.parametrize(
    "reason", [MISSING, None, "", "  "], ids=["missing", "null", "empty", "blank"]
)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/specs/demo/content", {"content": "a: 3"}),
        ("POST", "/v1/specs/demo/publish", {}),
        ("POST", "/v1/specs/demo/deprecate", {}),
        ("POST", "/v1/specs/demo/delete", {}),
    ],
    ids=["update", "publish", "deprecate", "delete"],
)
def test_a_missing_null_or_blank_reason_stays_a_validation_error(
    seeded: Api, method: str, path: str, body: dict, reason: Any
) -> None:
    sent = body if reason is MISSING else {**body, "reason": reason}
    before = seeded.events()
    error = assert_error(seeded.call(method, path, json=sent), 422, "ValidationError")
    assert error["details"]["errors"] == [{"path": "/reason", "message": "must not be blank"}]
    assert seeded.events() == before


@pytest.mark.parametrize("path", ["/v1/specs/demo/deprecate", "/v1/specs/demo/content"])
def test_a_reason_of_the_wrong_type_is_400(seeded: Api, path: str) -> None:
    method = "PUT" if path.endswith("content") else "POST"
    body: dict[str, Any] = {"reason": 5}
    if method == "PUT":
        body["content"] = "a: 3"
    error = assert_error(seeded.call(method, path, json=body), 400, "BadRequest")
    assert (error["message"], error["details"]["field"]) == (
        "reason must be a JSON string",
        "reason",
    )


# --- integers: JSON has one number type, so 7778.0 is the integer 7778 --------------------


def test_integral_numbers_are_accepted_as_integers(seeded: Api) -> None:
    updated = seeded.ok(seeded.update("demo", "a: 2\n", expected_version=1.0))
    assert updated["version"] == 2
    published = seeded.ok(seeded.command("demo", "publish", version=2.0))
    assert published["published_version"] == 2
    path = "/v1/specs/rules/evaluate"
    outcome = seeded.ok(seeded.post(path, json={"input": {}, "version": 1.0}))
    assert outcome["version"] == 1


@pytest.mark.parametrize(
    ("raw", "status", "code", "message"),
    [
        (b'{"reason": "r", "version": 7778.0}', 404, "VersionNotFound", "has no version 7778"),
        (b'{"reason": "r", "version": 7.778e3}', 404, "VersionNotFound", "has no version 7778"),
        (b'{"reason": "r", "version": 1.5}', 400, "BadRequest", "version must be a JSON integer"),
        (b'{"reason": "r", "version": 1e-3}', 400, "BadRequest", "version must be a JSON integer"),
        (b'{"reason": "r", "version": 1e400}', 400, "BadRequest", "version must be a JSON integer"),
        (b'{"reason": "r", "version": true}', 400, "BadRequest", "version must be a JSON integer"),
        (b'{"reason": "r", "version": false}', 400, "BadRequest", "version must be a JSON integer"),
    ],
    ids=["7778.0", "7.778e3", "1.5", "1e-3", "1e400", "true", "false"],
)
def test_only_integral_numbers_are_integers(
    seeded: Api, raw: bytes, status: int, code: str, message: str
) -> None:
    before = seeded.events()
    response = seeded.post("/v1/specs/demo/publish", data=raw, content_type="application/json")
    error = assert_error(response, status, code)
    assert message in error["message"]
    assert seeded.events() == before


def test_an_integral_expected_version_that_differs_is_a_mismatch_naming_the_integer(
    seeded: Api,
) -> None:
    raw = b'{"content": "a: 2", "reason": "r", "expected_version": 5.0}'
    response = seeded.put("/v1/specs/demo/content", data=raw, content_type="application/json")
    error = assert_error(response, 409, "VersionMismatch")
    assert error["message"].endswith("not 5")
