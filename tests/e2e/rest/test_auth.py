"""Authentication and roles through the REST API (docs/behaviour.md, Authentication and roles)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

import jwt
import pytest
from flask import Flask
from werkzeug.test import TestResponse

from rest_api import create_app
from specsvc import SpecService
from specsvc.auth import Authenticator, JwtVerifier, TokenStore
from tests.support.principals import ROLE_PRINCIPAL, JwtKeys, claims, hs256_token, token_of
from tests.support.rest import RULES, Api, assert_error

# Written out from docs/behaviour.md, not derived from the code.
MAY = {
    "reader": set(),
    "author": {"create", "update"},
    "publisher": {"publish", "deprecate"},
    "admin": {"create", "update", "publish", "deprecate", "delete"},
}
WRITES = ["create", "update", "publish", "deprecate", "delete"]


@pytest.fixture
def world(api: Api) -> Api:
    """``draft-spec`` (a draft) and ``live-spec`` (published), both written by ada."""
    api.create("draft-spec")
    api.create("live-spec", RULES, "regex-rules")
    api.ok(api.command("live-spec", "publish"))
    return api


def attempt(api: Api, action: str) -> TestResponse:
    """Each write, aimed so that it would succeed for a principal allowed to make it."""
    if action == "create":
        body = {"name": "fresh", "type": "generic", "content": "a: 1\n"}
        return api.post("/v1/specs", json=body)
    if action == "update":
        return api.update("draft-spec", "a: 2\n")
    if action == "deprecate":
        return api.command("live-spec", "deprecate")
    return api.command("draft-spec", action)


@pytest.mark.parametrize("action", WRITES)
@pytest.mark.parametrize("role", list(MAY))
def test_each_role_may_make_exactly_its_writes(world: Api, role: str, action: str) -> None:
    caller = world.as_(ROLE_PRINCIPAL[role])
    before = world.events()
    response = attempt(caller, action)
    if action in MAY[role]:
        assert response.status_code in (200, 201), response.get_data(as_text=True)
        assert world.events() == before + 1
        return
    error = assert_error(response, 403, "PermissionDenied")
    assert error["details"]["action"] == action
    assert world.events() == before


@pytest.mark.parametrize("action", WRITES)
def test_a_denied_write_leaves_the_spec_untouched(world: Api, action: str) -> None:
    before = {
        name: world.ok(world.get(f"/v1/specs/{name}")) for name in ("draft-spec", "live-spec")
    }
    assert_error(attempt(world.as_("rita"), action), 403, "PermissionDenied")
    for name, spec in before.items():
        assert world.ok(world.get(f"/v1/specs/{name}")) == spec
    assert_error(world.get("/v1/specs/fresh"), 404, "SpecNotFound")


READS = [
    ("GET", "/v1/specs", None),
    ("GET", "/v1/specs/live-spec", None),
    ("GET", "/v1/specs/live-spec/published", None),
    ("GET", "/v1/specs/live-spec/versions", None),
    ("GET", "/v1/specs/live-spec/versions/1", None),
    ("GET", "/v1/specs/live-spec/diff?from=1&to=1", None),
    ("GET", "/v1/specs/live-spec/history", None),
    ("POST", "/v1/specs/live-spec/evaluate", {"input": {"email": "a@example.com"}}),
    ("GET", "/v1/events", None),
    ("POST", "/v1/validate", {"type": "generic", "content": "a: 1"}),
    ("GET", "/v1/types", None),
    ("GET", "/v1/types/generic", None),
]


@pytest.mark.parametrize(("method", "path", "body"), READS)
@pytest.mark.parametrize("role", list(MAY))
def test_every_role_may_read(
    world: Api, role: str, method: str, path: str, body: dict | None
) -> None:
    before = world.events()
    response = world.as_(ROLE_PRINCIPAL[role]).call(method, path, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert world.events() == before


@pytest.mark.parametrize(("method", "path", "body"), READS)
def test_a_read_without_a_token_is_401(world: Api, method: str, path: str, body: dict) -> None:
    response = world.as_(None).call(method, path, json=body)
    assert_error(response, 401, "Unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("action", WRITES)
def test_a_write_without_a_token_is_401_with_a_bearer_challenge(world: Api, action: str) -> None:
    before = world.events()
    response = attempt(world.as_(None), action)
    assert_error(response, 401, "Unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "invalid_token" not in response.headers["WWW-Authenticate"]
    assert world.events() == before


@pytest.mark.parametrize("action", WRITES)
def test_an_unknown_token_is_401_invalid_token(world: Api, action: str) -> None:
    before = world.events()
    response = attempt(world.as_("nobody-holds-this"), action)
    assert_error(response, 401, "Unauthenticated")
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer") and 'error="invalid_token"' in challenge
    assert world.events() == before


@pytest.mark.parametrize(
    "header",
    [
        f"Basic {base64.b64encode(b'ada:pw').decode()}",
        "Bearer",
        "Bearer ",
        f"Token {token_of('ada')}",
        f"Bearer {token_of('ada')} extra",
    ],
)
def test_a_malformed_authorization_header_is_401(api: Api, header: str) -> None:
    response = api.as_(None).get("/v1/specs", headers={"Authorization": header})
    assert_error(response, 401, "Unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_bearer_scheme_is_case_insensitive(api: Api) -> None:
    response = api.as_(None).get(
        "/v1/specs", headers={"Authorization": f"bearer {token_of('ada')}"}
    )
    assert response.status_code == 200


def test_a_401_echoes_the_correlation_id(api: Api) -> None:
    response = api.as_(None).get("/v1/specs", headers={"X-Correlation-ID": "who-am-i"})
    assert assert_error(response, 401, "Unauthenticated") is not None
    assert response.headers["X-Correlation-ID"] == "who-am-i"
    assert response.get_json()["correlation_id"] == "who-am-i"


# --- the recorded actor -------------------------------------------------------------------


def test_the_recorded_actor_is_the_authenticated_principal(world: Api) -> None:
    alice, bob, paul = world.as_("alice"), world.as_("bob"), world.as_("paul")
    created = alice.create("owned")
    assert created["created_by"] == created["updated_by"] == "alice"
    updated = bob.ok(bob.update("owned", "b: 2\n"))
    assert updated["created_by"] == "alice" and updated["updated_by"] == "bob"
    published = paul.ok(paul.command("owned", "publish"))
    assert published["updated_by"] == "paul"
    assert [e["actor"] for e in world.history("owned")] == ["alice", "bob", "paul"]
    versions = world.ok(world.get("/v1/specs/owned/versions"))["versions"]
    assert [v["created_by"] for v in versions] == ["alice", "bob"]
    summary = world.ok(world.get("/v1/specs?name_prefix=owned"))["specs"][0]
    assert (summary["created_by"], summary["updated_by"]) == ("alice", "paul")


@pytest.mark.parametrize("field", ["actor", "created_by", "updated_by", "principal"])
def test_a_client_supplied_actor_is_refused_and_never_recorded(world: Api, field: str) -> None:
    before = world.events()
    body = {"name": "spoof", "type": "generic", "content": "a: 1", field: "mallory"}
    assert_error(world.as_("alice").post("/v1/specs", json=body), 400, "BadRequest")
    update = {"content": "x: 1", "reason": "r", field: "mallory"}
    response = world.as_("alice").put("/v1/specs/draft-spec/content", json=update)
    assert_error(response, 400, "BadRequest")
    assert world.events() == before
    assert all(e["actor"] != "mallory" for e in world.ok(world.get("/v1/events"))["events"])


# --- JWTs ---------------------------------------------------------------------------------


def jwt_call(api: Api, token: str) -> TestResponse:
    body = {"name": "by-jwt", "type": "generic", "content": "a: 1\n"}
    return api.as_(None).post("/v1/specs", json=body, headers={"Authorization": f"Bearer {token}"})


def test_a_valid_hs256_jwt_is_accepted_and_its_subject_is_the_actor(
    api: Api, jwt_keys: JwtKeys
) -> None:
    spec = api.ok(jwt_call(api, hs256_token(jwt_keys, subject="jwt-jane")), 201)
    assert spec["created_by"] == "jwt-jane"
    assert api.history("by-jwt")[0]["actor"] == "jwt-jane"


def test_a_jwt_grants_only_its_roles(api: Api, jwt_keys: JwtKeys) -> None:
    token = hs256_token(jwt_keys, roles=("reader",))
    assert_error(jwt_call(api, token), 403, "PermissionDenied")
    listing = api.as_(None).get("/v1/specs", headers={"Authorization": f"Bearer {token}"})
    assert listing.status_code == 200


def _unsigned(payload: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def _bad_tokens(keys: JwtKeys) -> dict[str, str]:
    now = int(time.time())
    return {
        "forged-signature": jwt.encode(claims(), secrets.token_bytes(32), algorithm="HS256"),
        "tampered-payload": _tampered(hs256_token(keys, roles=("reader",))),
        "expired": hs256_token(keys, exp=now - 3600),
        "not-yet-valid": hs256_token(keys, nbf=now + 3600),
        "wrong-audience": hs256_token(keys, aud="someone-else"),
        "wrong-issuer": hs256_token(keys, iss="https://evil.example"),
        "alg-none": _unsigned(claims()),
        "rs256-instead-of-hs256": jwt.encode(claims(), keys.rsa_private, algorithm="RS256"),
        "no-subject": jwt.encode(
            {k: v for k, v in claims().items() if k != "sub"}, keys.hs256_secret, "HS256"
        ),
        "no-expiry": jwt.encode(
            {k: v for k, v in claims().items() if k != "exp"}, keys.hs256_secret, "HS256"
        ),
        "unknown-role": hs256_token(keys, roles=("superuser",)),
        "garbage": "not.a.jwt",
    }


def _tampered(token: str) -> str:
    header, _, signature = token.split(".")
    payload = base64.urlsafe_b64encode(json.dumps(claims()).encode()).decode().rstrip("=")
    return f"{header}.{payload}.{signature}"


BAD_JWTS = [
    "forged-signature",
    "tampered-payload",
    "expired",
    "not-yet-valid",
    "wrong-audience",
    "wrong-issuer",
    "alg-none",
    "rs256-instead-of-hs256",
    "no-subject",
    "no-expiry",
    "unknown-role",
    "garbage",
]


@pytest.mark.parametrize("kind", BAD_JWTS)
def test_a_bad_jwt_is_401_invalid_token_and_writes_nothing(
    api: Api, jwt_keys: JwtKeys, kind: str
) -> None:
    before = api.events()
    response = jwt_call(api, _bad_tokens(jwt_keys)[kind])
    assert_error(response, 401, "Unauthenticated")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert api.events() == before


@pytest.fixture
def rs256_app(service: SpecService, jwt_keys: JwtKeys) -> Flask:
    verifier = JwtVerifier(jwt_keys.rsa_public_pem, "RS256", audience="specsvc")
    return create_app(service, Authenticator(TokenStore([]), verifier))


def test_a_valid_rs256_jwt_is_accepted(rs256_app: Flask, jwt_keys: JwtKeys) -> None:
    token = jwt.encode(claims(subject="rsa-ron"), jwt_keys.rsa_private, algorithm="RS256")
    response = rs256_app.test_client().post(
        "/v1/specs",
        json={"name": "rsa", "type": "generic", "content": "a: 1"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["created_by"] == "rsa-ron"


def test_an_hs256_token_keyed_with_the_rs256_public_key_is_401(
    rs256_app: Flask, jwt_keys: JwtKeys
) -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    payload = base64.urlsafe_b64encode(json.dumps(claims()).encode()).decode().rstrip("=")
    signing_input = f"{header}.{payload}".encode()
    mac = hmac.new(jwt_keys.rsa_public_pem, signing_input, hashlib.sha256).digest()
    token = f"{header}.{payload}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
    response = rs256_app.test_client().get(
        "/v1/specs", headers={"Authorization": f"Bearer {token}"}
    )
    assert_error(response, 401, "Unauthenticated")


# --- four eyes ----------------------------------------------------------------------------


def test_four_eyes_stops_the_author_of_a_version_from_publishing_it(four_eyes_api: Api) -> None:
    carol = four_eyes_api.as_("carol")
    carol.create("pair")
    before = four_eyes_api.events()
    error = assert_error(carol.command("pair", "publish"), 403, "SeparationOfDuties")
    assert error["details"]["version"] == 1
    assert four_eyes_api.events() == before
    paul = four_eyes_api.as_("paul")
    assert paul.ok(paul.command("pair", "publish"))["published_version"] == 1


def test_four_eyes_looks_at_who_wrote_the_version_being_published(four_eyes_api: Api) -> None:
    ada, bob = four_eyes_api, four_eyes_api.as_("bob")
    ada.create("mixed", "a: 1\n")
    bob.ok(bob.update("mixed", "a: 2\n"))
    assert ada.ok(ada.command("mixed", "publish"))["published_version"] == 2
    assert_error(ada.command("mixed", "publish", version=1), 403, "SeparationOfDuties")
    assert ada.ok(ada.as_("penny").command("mixed", "publish", version=1))["published_version"] == 1


def test_without_four_eyes_an_author_may_publish_their_own_version(api: Api) -> None:
    carol = api.as_("carol")
    carol.create("solo")
    assert carol.ok(carol.command("solo", "publish"))["state"] == "published"


# --- operations endpoints -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json"])
def test_operations_endpoints_need_no_token(api: Api, path: str) -> None:
    response = api.as_(None).get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "WWW-Authenticate" not in response.headers


def test_without_an_authenticator_everyone_is_anonymous_with_every_role(
    service: SpecService,
) -> None:
    client = create_app(service).test_client()
    body = {"name": "anon", "type": "generic", "content": "a: 1"}
    assert client.post("/v1/specs", json=body).get_json()["created_by"] == "anonymous"
    response = client.post("/v1/specs/anon/delete", json={"reason": "cleanup"})
    assert response.get_json()["state"] == "deleted"


def test_every_route_declares_its_action_or_is_public(app: Flask) -> None:
    from rest_api.context import ACTIONS, PUBLIC

    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - ACTIONS.keys() - PUBLIC == set()
    assert ACTIONS.keys() <= endpoints and endpoints >= PUBLIC


def test_a_route_without_a_declared_action_is_refused_to_everyone(app: Flask) -> None:
    app.add_url_rule("/v1/unclassified", "unclassified", lambda: {"open": True})
    response = Api(app.test_client(), app.extensions["specsvc"]).get("/v1/unclassified")
    assert_error(response, 403, "PermissionDenied")
