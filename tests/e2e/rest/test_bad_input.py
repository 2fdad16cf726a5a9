"""A corpus of malformed and hostile requests: each gets its error code and writes nothing."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder, TestResponse
from werkzeug.wrappers import Request

from rest_api import create_app
from specsvc import SpecService
from tests.support.hostile_inputs import BAD_NAMES, BILLION_LAUGHS, YAML_ATTACKS
from tests.support.principals import JwtKeys, hs256_token, token_of
from tests.support.rest import RULES, Api, assert_error, build_app

# Large enough for the 100k-deep JSON to reach the parser; the size cases shrink it.
CORPUS_LIMIT = 200_000
SMALL_LIMIT = 1024
JSON = "application/json"
# As a server hands over a chunked request: no length, the stream ends at the body's end.
CHUNKED: dict[str, Any] = {
    "environ_overrides": {"wsgi.input_terminated": True},
    "headers": {"Transfer-Encoding": "chunked"},
}


@dataclass(frozen=True)
class Bad:
    id: str
    method: str
    path: str
    status: int
    code: str
    body: Any = None  # sent as JSON unless ``raw`` is given
    raw: bytes | None = None
    content_type: str | None = JSON
    chunked: bool = False
    max_request_bytes: int = CORPUS_LIMIT
    headers: dict[str, str] = field(default_factory=dict)


def dumps(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def create(content: Any = "a: 1\n", name: Any = "fresh", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "generic", "content": content, **extra}


def yaml_attack(case_id: str, content: str) -> Bad:
    return Bad(f"yaml-{case_id}", "POST", "/v1/specs", 422, "ValidationError", create(content))


def bad_name(case_id: str, name: str) -> Bad:
    return Bad(f"name-{case_id}", "POST", "/v1/specs", 422, "ValidationError", create(name=name))


def query(case_id: str, path: str, status: int = 400, code: str = "BadRequest") -> Bad:
    return Bad(f"query-{case_id}", "GET", path, status, code)


BIG_CONTENT = "a: " + "x" * 1500 + "\n"  # under the spec limit, over SMALL_LIMIT as a body

CORPUS = [
    # --- sizes ----------------------------------------------------------------------------
    Bad(
        "body-over-limit-with-content-length",
        "POST",
        "/v1/specs",
        413,
        "PayloadTooLarge",
        create(BIG_CONTENT),
        max_request_bytes=SMALL_LIMIT,
    ),
    Bad(
        "update-body-over-limit",
        "PUT",
        "/v1/specs/demo/content",
        413,
        "PayloadTooLarge",
        {"content": BIG_CONTENT, "reason": "grow"},
        max_request_bytes=SMALL_LIMIT,
    ),
    Bad(
        "chunked-body-over-limit",
        "POST",
        "/v1/specs",
        413,
        "PayloadTooLarge",
        raw=dumps(**create(BIG_CONTENT)),
        chunked=True,
        max_request_bytes=SMALL_LIMIT,
    ),
    Bad(
        "content-over-max-spec-bytes",
        "POST",
        "/v1/specs",
        413,
        "PayloadTooLarge",
        create("a: " + "x" * 2100 + "\n"),
    ),
    Bad(
        "multibyte-content-over-max-spec-bytes",
        "POST",
        "/v1/specs",
        413,
        "PayloadTooLarge",
        create("a: " + "é" * 1100 + "\n"),
    ),
    Bad(
        "update-content-over-max-spec-bytes",
        "PUT",
        "/v1/specs/demo/content",
        413,
        "PayloadTooLarge",
        {"content": "a: " + "x" * 2100, "reason": "grow"},
    ),
    # --- JSON itself ----------------------------------------------------------------------
    Bad("json-100k-deep-arrays", "POST", "/v1/specs", 400, "BadRequest", raw=b"[" * 100_000),
    Bad("json-30k-deep-objects", "POST", "/v1/specs", 400, "BadRequest", raw=b'{"a":' * 30_000),
    Bad(
        "json-not-utf8",
        "POST",
        "/v1/specs",
        400,
        "BadRequest",
        raw=b'{"name": "\xff\xfe", "type": "generic", "content": "a: 1"}',
    ),
    Bad(
        "json-utf16",
        "POST",
        "/v1/specs",
        400,
        "BadRequest",
        raw=json.dumps(create()).encode("utf-16"),
    ),
    Bad(
        "json-duplicate-keys",
        "POST",
        "/v1/specs",
        400,
        "BadRequest",
        raw=b'{"name": "dup", "name": "dup2", "type": "generic", "content": "a: 1"}',
    ),
    Bad(
        "json-nested-duplicate-keys",
        "POST",
        "/v1/specs/demo/evaluate",
        400,
        "BadRequest",
        raw=b'{"input": {"x": 1, "x": 2}}',
    ),
    Bad(
        "json-nan",
        "POST",
        "/v1/specs",
        400,
        "BadRequest",
        raw=b'{"name": "nan", "type": "generic", "content": "a: 1", "reason": NaN}',
    ),
    Bad(
        "json-infinity",
        "POST",
        "/v1/specs/demo/publish",
        400,
        "BadRequest",
        raw=b'{"reason": "r", "version": Infinity}',
    ),
    Bad(
        "json-minus-infinity",
        "POST",
        "/v1/specs/rules/evaluate",
        400,
        "BadRequest",
        raw=b'{"input": {"n": -Infinity}}',
    ),
    Bad("json-truncated", "POST", "/v1/specs", 400, "BadRequest", raw=b'{"name": "x", '),
    Bad("json-missing-body", "POST", "/v1/specs", 400, "BadRequest", raw=b""),
    Bad("json-top-level-array", "POST", "/v1/specs", 400, "BadRequest", raw=b"[]"),
    Bad("json-top-level-string", "POST", "/v1/specs", 400, "BadRequest", raw=b'"name"'),
    Bad("json-top-level-null", "POST", "/v1/specs/demo/delete", 400, "BadRequest", raw=b"null"),
    Bad(
        "json-wrong-content-type",
        "POST",
        "/v1/specs",
        415,
        "UnsupportedMediaType",
        raw=dumps(**create()),
        content_type="text/plain",
    ),
    Bad(
        "json-form-encoded",
        "POST",
        "/v1/specs",
        415,
        "UnsupportedMediaType",
        raw=b"name=x&type=generic&content=a",
        content_type="application/x-www-form-urlencoded",
    ),
    Bad(
        "json-yaml-content-type",
        "PUT",
        "/v1/specs/demo/content",
        415,
        "UnsupportedMediaType",
        raw=b"a: 2\n",
        content_type="application/yaml",
    ),
    Bad(
        "json-no-content-type",
        "POST",
        "/v1/specs",
        415,
        "UnsupportedMediaType",
        raw=dumps(**create()),
        content_type=None,
    ),
    Bad(
        "json-latin1-charset",
        "POST",
        "/v1/specs",
        415,
        "UnsupportedMediaType",
        raw=dumps(**create()),
        content_type="application/json; charset=latin-1",
    ),
    # --- fields ---------------------------------------------------------------------------
    Bad("field-unknown", "POST", "/v1/specs", 400, "BadRequest", create(owner="me")),
    Bad("field-name-number", "POST", "/v1/specs", 400, "BadRequest", create(name=5)),
    Bad("field-type-list", "POST", "/v1/specs", 400, "BadRequest", {**create(), "type": ["x"]}),
    Bad("field-content-object", "POST", "/v1/specs", 400, "BadRequest", create({"a": 1})),
    Bad("field-reason-list", "POST", "/v1/specs", 400, "BadRequest", create(reason=[])),
    Bad(
        "field-expected-version-string",
        "PUT",
        "/v1/specs/demo/content",
        400,
        "BadRequest",
        {"content": "a: 2", "reason": "r", "expected_version": "1"},
    ),
    Bad(
        "field-expected-version-float",
        "PUT",
        "/v1/specs/demo/content",
        400,
        "BadRequest",
        {"content": "a: 2", "reason": "r", "expected_version": 1.5},
    ),
    Bad(
        "field-expected-version-zero",
        "PUT",
        "/v1/specs/demo/content",
        400,
        "BadRequest",
        {"content": "a: 2", "reason": "r", "expected_version": 0},
    ),
    Bad(
        "field-version-bool",
        "POST",
        "/v1/specs/demo/publish",
        400,
        "BadRequest",
        {"reason": "r", "version": True},
    ),
    Bad(
        "field-version-negative",
        "POST",
        "/v1/specs/demo/publish",
        400,
        "BadRequest",
        {"reason": "r", "version": -1},
    ),
    Bad(
        "field-version-huge",
        "POST",
        "/v1/specs/demo/publish",
        404,
        "VersionNotFound",
        {"reason": "r", "version": 10**30},
    ),
    Bad(
        "field-input-list",
        "POST",
        "/v1/specs/rules/evaluate",
        400,
        "BadRequest",
        {"input": ["a"]},
    ),
    Bad(
        "field-validate-content-number",
        "POST",
        "/v1/validate",
        400,
        "BadRequest",
        {"type": "generic", "content": 1},
    ),
    Bad("nul-in-content", "POST", "/v1/specs", 422, "ValidationError", create("a: \x00\n")),
    Bad(
        "nul-in-updated-content",
        "PUT",
        "/v1/specs/demo/content",
        422,
        "ValidationError",
        {"content": "a: 1\x00", "reason": "r"},
    ),
    Bad(
        "unknown-type",
        "POST",
        "/v1/specs",
        422,
        "ValidationError",
        {**create(), "type": "no-such-type"},
    ),
    Bad("missing-type", "POST", "/v1/specs", 400, "BadRequest", {"name": "x", "content": "a"}),
    Bad(
        "missing-content", "POST", "/v1/specs", 400, "BadRequest", {"name": "x", "type": "generic"}
    ),
    Bad("null-type", "POST", "/v1/specs", 400, "BadRequest", {**create(), "type": None}),
    Bad("missing-input", "POST", "/v1/specs/rules/evaluate", 400, "BadRequest", {}),
    # --- reasons --------------------------------------------------------------------------
    Bad("reason-missing-publish", "POST", "/v1/specs/demo/publish", 422, "ValidationError", {}),
    Bad(
        "reason-missing-update",
        "PUT",
        "/v1/specs/demo/content",
        422,
        "ValidationError",
        {"content": "a: 2"},
    ),
    Bad(
        "reason-1001-chars",
        "PUT",
        "/v1/specs/demo/content",
        422,
        "ValidationError",
        {"content": "a: 2", "reason": "r" * 1001},
    ),
    Bad(
        "reason-blank",
        "POST",
        "/v1/specs/demo/delete",
        422,
        "ValidationError",
        {"reason": " \t\n "},
    ),
    Bad(
        "reason-null",
        "POST",
        "/v1/specs/rules/deprecate",
        422,
        "ValidationError",
        {"reason": None},
    ),
    # --- YAML attacks as content (Spec types; the core intake's corpus) --------------------
    *(yaml_attack(name, text) for name, text in YAML_ATTACKS.items()),
    Bad(
        "yaml-python-tag-on-update",
        "PUT",
        "/v1/specs/demo/content",
        422,
        "ValidationError",
        {"content": "a: !!python/object/apply:os.system ['id']\n", "reason": "r"},
    ),
    Bad(
        "yaml-billion-laughs-on-update",
        "PUT",
        "/v1/specs/demo/content",
        422,
        "ValidationError",
        {"content": BILLION_LAUGHS, "reason": "r"},
    ),
    # --- names ----------------------------------------------------------------------------
    *(bad_name(case, name) for case, name in BAD_NAMES.items()),
    # --- query parameters -----------------------------------------------------------------
    query("10kb-value", "/v1/specs?name_prefix=" + "a" * 10_240),
    query("repeated", "/v1/specs?limit=1&limit=2"),
    query("unknown", "/v1/specs?sort=name"),
    query("unknown-on-get", "/v1/specs/demo?version=1"),
    query("limit-abc", "/v1/specs?limit=abc"),
    query("limit-zero", "/v1/specs?limit=0"),
    query("limit-501", "/v1/specs?limit=501"),
    query("limit-huge", "/v1/specs?limit=99999999999999999999"),
    query("events-limit-501", "/v1/events?limit=501"),
    query("after-negative", "/v1/events?after=-1"),
    query("after-text", "/v1/events?after=first"),
    query("since-malformed", "/v1/events?since=last-week"),
    query("as-of-malformed", "/v1/specs/demo?as_of=yesterday"),
    query("as-of-impossible-date", "/v1/specs/demo?as_of=2024-02-30T00:00:00Z"),
    query("as-of-no-zone", "/v1/specs/demo/published?as_of=2024-01-01T00:00:00"),
    query("page-token-garbage", "/v1/specs?page_token=%00%ff"),
    query("state-unknown", "/v1/specs?state=gone"),
    query("diff-from-text", "/v1/specs/demo/diff?from=one&to=1"),
    query("version-path-text", "/v1/specs/demo/versions/one"),
    query("version-path-huge", "/v1/specs/demo/versions/" + "9" * 40),
    # --- paths ----------------------------------------------------------------------------
    query("path-traversal-encoded-slash", "/v1/specs/..%2F..%2Fetc", 404, "NotFound"),
    query("path-dot-dot", "/v1/specs/%2e%2e", 404, "SpecNotFound"),
    query("path-dot-dot-history", "/v1/specs/%2e%2e/history", 404, "SpecNotFound"),
    query(
        "path-traversal-published", "/v1/specs/..%2f..%2fetc%2fpasswd/published", 404, "NotFound"
    ),
    query("path-nul", "/v1/specs/a%00b", 404, "SpecNotFound"),
    query("path-upper", "/v1/specs/DEMO", 404, "SpecNotFound"),
    Bad(
        "path-dot-dot-publish",
        "POST",
        "/v1/specs/%2e%2e/publish",
        404,
        "SpecNotFound",
        {"reason": "r"},
    ),
]


def seed(api: Api) -> None:
    """``demo`` a generic draft, ``rules`` a published regex-rules spec."""
    api.create("demo")
    api.create("rules", RULES, "regex-rules")
    api.ok(api.command("rules", "publish"))


def send(api: Api, case: Bad) -> TestResponse:
    kwargs: dict[str, Any] = {"headers": dict(case.headers)}
    if case.content_type is not None:
        kwargs["content_type"] = case.content_type
    if case.chunked:
        kwargs["input_stream"] = io.BytesIO(case.raw or b"")
        kwargs["environ_overrides"] = CHUNKED["environ_overrides"]
        kwargs["headers"].update(CHUNKED["headers"])
    elif case.raw is not None:
        kwargs["data"] = case.raw
    elif case.body is not None:
        kwargs["data"] = json.dumps(case.body)
    return api.call(case.method, case.path, **kwargs)


def test_the_corpus_is_large_and_its_ids_are_unique() -> None:
    assert len(CORPUS) >= 40
    assert len({case.id for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.id)
def test_bad_input_gets_its_status_and_code_and_writes_nothing(
    service: SpecService, jwt_keys: JwtKeys, case: Bad
) -> None:
    app = build_app(service, jwt_keys, max_request_bytes=case.max_request_bytes)
    api = Api(app.test_client(), service)
    seed(api)
    before = api.events()
    response = send(api, case)
    assert_error(response, case.status, case.code)
    assert api.events() == before


# --- chunked bodies -----------------------------------------------------------------------


def chunked_kwargs(raw: bytes) -> dict[str, Any]:
    return {
        "method": "POST",
        "content_type": JSON,
        **CHUNKED,
        "input_stream": io.BytesIO(raw),
        "headers": {"Authorization": f"Bearer {token_of('ada')}", **CHUNKED["headers"]},
    }


def test_the_chunked_request_really_has_no_content_length() -> None:
    """EnvironBuilder measures a seekable input stream; Transfer-Encoding hides the length."""
    environ = EnvironBuilder("/v1/specs", **chunked_kwargs(b"{}")).get_environ()
    request = Request(environ)
    assert request.content_length is None
    assert request.stream.read() == b"{}"


def test_a_chunked_body_under_the_limit_is_read_whole(
    service: SpecService, jwt_keys: JwtKeys
) -> None:
    client = build_app(service, jwt_keys, max_request_bytes=SMALL_LIMIT).test_client()
    raw = dumps(**create("a: 1\n", name="chunky"))
    response = client.open("/v1/specs", **chunked_kwargs(raw))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["content"] == "a: 1\n"


def test_a_chunked_body_over_the_limit_is_never_parsed_truncated(
    service: SpecService, jwt_keys: JwtKeys
) -> None:
    """A valid document padded past the limit: cut at the limit it would parse and create."""
    app = build_app(service, jwt_keys, max_request_bytes=SMALL_LIMIT)
    api = Api(app.test_client(), service)
    document = dumps(**create("a: 1\n", name="truncated"))
    padded = document + b" " * (SMALL_LIMIT + 1 - len(document))
    before = api.events()
    response = app.test_client().open("/v1/specs", **chunked_kwargs(padded))
    assert_error(response, 413, "PayloadTooLarge")
    assert api.events() == before
    assert_error(api.get("/v1/specs/truncated"), 404, "SpecNotFound")


def test_a_body_of_exactly_the_limit_is_accepted_chunked_or_not(
    service: SpecService, jwt_keys: JwtKeys
) -> None:
    app = build_app(service, jwt_keys, max_request_bytes=SMALL_LIMIT)
    api = Api(app.test_client(), service)
    for name in ("exact-chunked", "exact-sized"):
        document = dumps(**create("a: 1\n", name=name))
        padded = document + b" " * (SMALL_LIMIT - len(document))
        assert len(padded) == app.config["SPECSVC_MAX_REQUEST_BYTES"]
        if name == "exact-chunked":
            response = app.test_client().open("/v1/specs", **chunked_kwargs(padded))
        else:
            response = api.post("/v1/specs", data=padded, content_type=JSON)
        assert response.status_code == 201, response.get_data(as_text=True)


def test_the_request_limit_defaults_above_the_spec_limit(service: SpecService) -> None:
    app = create_app(service)
    assert app.config["SPECSVC_MAX_REQUEST_BYTES"] >= service.settings.max_spec_bytes


def test_content_of_exactly_max_spec_bytes_is_accepted(api: Api) -> None:
    limit = api.service.settings.max_spec_bytes
    content = "a: " + "x" * (limit - 4) + "\n"
    assert len(content.encode()) == limit
    assert api.create("at-limit", content)["content"] == content


# --- lone surrogates: valid JSON escapes that no UTF-8 store can hold ----------------------

SURROGATE_BODIES = [
    (
        "create-reason",
        "POST",
        "/v1/specs",
        '{"name": "s", "type": "generic", "content": "a: 1", "reason": "why \\ud800"}',
    ),
    ("update-reason", "PUT", "/v1/specs/demo/content", '{"content": "a: 2", "reason": "\\udfff"}'),
    ("publish-reason", "POST", "/v1/specs/demo/publish", '{"reason": "\\ud83d"}'),
    ("deprecate-reason", "POST", "/v1/specs/rules/deprecate", '{"reason": "x\\ud800y"}'),
    ("delete-reason", "POST", "/v1/specs/demo/delete", '{"reason": "\\ud800"}'),
    (
        "evaluate-input-value",
        "POST",
        "/v1/specs/rules/evaluate",
        '{"input": {"email": "\\ud800@example.com"}}',
    ),
    (
        "evaluate-input-list-value",
        "POST",
        "/v1/specs/rules/evaluate",
        '{"input": {"email": ["\\udfff"]}}',
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "raw"),
    [case[1:] for case in SURROGATE_BODIES],
    ids=[case[0] for case in SURROGATE_BODIES],
)
def test_a_lone_surrogate_in_a_string_is_bad_input_not_a_500(
    api: Api, method: str, path: str, raw: str
) -> None:
    seed(api)
    before = api.events()
    response = api.call(method, path, data=raw.encode(), content_type=JSON)
    # Either reading is defensible: a JSON text the service cannot hold (400), or a field
    # value that is not valid text (422, as the content field already answers).
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    code = {400: "BadRequest", 422: "ValidationError"}[response.status_code]
    assert_error(response, response.status_code, code)
    assert api.events() == before


def test_a_jwt_whose_subject_is_not_valid_text_is_401_not_a_500(
    api: Api, jwt_keys: JwtKeys
) -> None:
    token = hs256_token(jwt_keys, subject="mallory\ud800")
    before = api.events()
    body = {"name": "by-surrogate", "type": "generic", "content": "a: 1\n"}
    response = api.as_(None).post(
        "/v1/specs", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert_error(response, 401, "Unauthenticated")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert api.events() == before
