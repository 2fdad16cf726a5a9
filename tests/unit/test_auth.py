"""Authentication (token file, JWT, Authorization header) and role checks (docs/behaviour.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from specsvc.auth import (
    ACTIONS,
    ANONYMOUS,
    ROLES,
    Authenticator,
    JwtVerifier,
    Principal,
    TokenStore,
    authorize,
    new_token,
    token_entry,
    www_authenticate,
)
from specsvc.config import Settings
from specsvc.errors import PermissionDenied, Unauthenticated

# Written out by hand, not derived from the code, so that the matrix can catch a bad grant.
ALLOWED = {
    "reader": {"read"},
    "author": {"read", "create", "update"},
    "publisher": {"read", "publish", "deprecate"},
    "admin": {"read", "create", "update", "publish", "deprecate", "delete", "operate"},
}
SECRET = b"an-hs256-secret-of-32-bytes-or-more"
ISSUER, AUDIENCE = "https://issuer.example", "specsvc"
DIGEST_A = "a" * 64


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.mark.parametrize(("role", "action"), list(itertools.product(ROLES, ACTIONS)))
def test_each_role_may_do_exactly_its_granted_actions(role: str, action: str) -> None:
    principal = Principal("pat", frozenset({role}))
    if action in ALLOWED[role]:
        authorize(principal, action)
        return
    with pytest.raises(PermissionDenied) as denied:
        authorize(principal, action)
    assert "pat" in denied.value.message and action in denied.value.message
    assert denied.value.details == {"action": action, "roles": [role]}


def test_roles_combine_and_anonymous_may_do_everything() -> None:
    both = Principal("sam", frozenset({"author", "publisher"}))
    for action in ("create", "update", "publish", "deprecate"):
        authorize(both, action)
    with pytest.raises(PermissionDenied):
        authorize(both, "delete")
    for action in ACTIONS:
        authorize(ANONYMOUS, action)
    assert ANONYMOUS.name == "anonymous"


def test_an_unknown_action_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="fly"):
        authorize(ANONYMOUS, "fly")


# --- token file -----------------------------------------------------------------------

ENTRY = f"{{principal: alice, sha256: {DIGEST_A}, roles: [author]}}"


def _with(old: str, new: str) -> str:
    return "tokens: [" + ENTRY.replace(old, new) + "]\n"


BAD_TOKEN_FILES = {
    "empty file": ("", "mapping"),
    "top level list": (f"- {ENTRY}\n", "mapping"),
    "extra top-level key": (f"tokens: [{ENTRY}]\nmore: 1\n", "mapping"),
    "tokens not a list": ("tokens: {principal: alice}\n", "list"),
    "entry not a mapping": ("tokens: [alice]\n", "tokens[0]"),
    "unknown key": (_with("[author]", "[author], note: x"), "tokens[0]"),
    "missing roles": (_with(", roles: [author]", ""), "tokens[0]"),
    "uppercase digest": (_with(DIGEST_A, "A" * 64), "tokens[0]"),
    "short digest": (_with(DIGEST_A, "a" * 63), "tokens[0]"),
    "digest not a string": (_with(DIGEST_A, "1" * 64), "tokens[0]"),
    "empty principal": (_with("alice", "''"), "tokens[0]"),
    "blank principal": (_with("alice", "'  '"), "tokens[0]"),
    "principal not a string": (_with("alice", "42"), "tokens[0]"),
    "empty roles": (_with("[author]", "[]"), "tokens[0]"),
    "unknown role": (_with("author", "root"), "tokens[0]"),
    "roles not a list": (_with("[author]", "author"), "tokens[0]"),
    "duplicate digest": (f"tokens: [{ENTRY}, {ENTRY.replace('alice', 'bob')}]\n", "tokens[1]"),
    "second entry bad": (f"tokens: [{ENTRY}, {{principal: b}}]\n", "tokens[1]"),
    "not yaml": ("tokens: [\n", "YAML"),
    "unsafe tag": ("tokens: !!python/object:object {}\n", "YAML"),
}


@pytest.mark.parametrize(("text", "expected"), BAD_TOKEN_FILES.values(), ids=BAD_TOKEN_FILES)
def test_a_malformed_tokens_file_is_refused_naming_file_and_entry(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as refused:
        TokenStore.from_file(path)
    assert str(path) in str(refused.value) and expected in str(refused.value)


def test_a_token_store_finds_the_holder_of_a_token_and_nobody_else() -> None:
    store = TokenStore(
        [
            {"principal": "alice", "sha256": _sha("one"), "roles": ["author"]},
            {"principal": "alice", "sha256": _sha("two"), "roles": ["author"]},
            {"principal": "bob", "sha256": _sha("three"), "roles": ["publisher", "admin"]},
        ]
    )
    assert store.authenticate("one") == Principal("alice", frozenset({"author"}))
    assert store.authenticate("two") == Principal("alice", frozenset({"author"}))
    assert store.authenticate("three") == Principal("bob", frozenset({"publisher", "admin"}))
    assert store.authenticate("four") is None
    assert store.authenticate("") is None


def test_authenticate_compares_against_every_entry_even_after_a_match(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = TokenStore(
        [{"principal": f"p{i}", "sha256": _sha(f"t{i}"), "roles": ["reader"]} for i in range(5)]
    )
    calls: list[str] = []
    compare = hmac.compare_digest

    def counting(a: str, b: str) -> bool:
        calls.append(a)
        return compare(a, b)

    monkeypatch.setattr("specsvc.auth.tokens.hmac.compare_digest", counting)
    assert store.authenticate("t0") == Principal("p0", frozenset({"reader"}))
    assert len(calls) == 5


def test_a_new_token_round_trips_through_its_entry_and_the_file(tmp_path: Path) -> None:
    token, digest = new_token()
    assert digest == _sha(token) and token != new_token()[0]
    path = tmp_path / "tokens.yaml"
    path.write_text("tokens:\n" + token_entry("alice", ["author", "publisher"], digest))
    assert token not in path.read_text() and digest in path.read_text()
    principal = TokenStore.from_file(path).authenticate(token)
    assert principal == Principal("alice", frozenset({"author", "publisher"}))


@pytest.mark.parametrize(
    ("name", "roles", "digest"),
    [
        ("", ["author"], DIGEST_A),
        ("bob", [], DIGEST_A),
        ("bob", ["root"], DIGEST_A),
        ("bob", ["reader"], "xyz"),
    ],
    ids=["empty name", "no roles", "unknown role", "bad digest"],
)
def test_token_entry_refuses_what_the_store_would_refuse(
    name: str, roles: list[str], digest: str
) -> None:
    with pytest.raises(ValueError):
        token_entry(name, roles, digest)


# --- JWT ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "sub": "carol",
        "roles": ["publisher"],
        "exp": int(time.time()) + 3600,
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _hs256(**changes: Any) -> str:
    return jwt.encode(_claims(**changes), SECRET, algorithm="HS256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any], key: bytes = b"") -> str:
    # Built by hand: PyJWT refuses to sign with a PEM key as an HMAC secret.
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if key else b""
    return f"{signing_input}.{_b64(signature)}"


def _with_claims(token: str, claims: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def _hs_verifier(**kw: Any) -> JwtVerifier:
    return JwtVerifier(SECRET, "HS256", **({"issuer": ISSUER, "audience": AUDIENCE} | kw))


def test_a_valid_hs256_token_names_its_subject_and_roles() -> None:
    assert _hs_verifier().verify(_hs256()) == Principal("carol", frozenset({"publisher"}))


def test_a_valid_rs256_token_names_its_subject_and_roles(rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = JwtVerifier(_public_pem(rsa_key), "RS256", issuer=ISSUER, audience=AUDIENCE)
    token = jwt.encode(_claims(roles=["admin"]), rsa_key, algorithm="RS256")
    assert verifier.verify(token) == Principal("carol", frozenset({"admin"}))


def test_a_token_expired_within_the_leeway_is_still_accepted() -> None:
    assert _hs_verifier().verify(_hs256(exp=int(time.time()) - 10)).name == "carol"


def _tampered(token: str) -> str:
    head, signature = token.rsplit(".", 1)
    flipped = "B" if signature[5] == "A" else "A"
    return f"{head}.{signature[:5]}{flipped}{signature[6:]}"


NOW = int(time.time())
BAD_HS256_TOKENS = {
    "expired": _hs256(exp=NOW - 3600),
    "not yet valid": _hs256(nbf=NOW + 3600),
    "wrong issuer": _hs256(iss="https://elsewhere.example"),
    "wrong audience": _hs256(aud="another-service"),
    "missing audience": _hs256(aud=None),
    "missing issuer": _hs256(iss=None),
    "missing exp": _hs256(exp=None),
    "missing sub": _hs256(sub=None),
    "blank sub": _hs256(sub=" "),
    "missing roles": _hs256(roles=None),
    "roles not a list": _hs256(roles="admin"),
    "empty roles": _hs256(roles=[]),
    "unknown role": _hs256(roles=["admin", "root"]),
    "tampered signature": _tampered(_hs256()),
    "tampered claims": _with_claims(_hs256(), _claims(roles=["admin"])),
    "alg none": _unsigned({"alg": "none", "typ": "JWT"}, _claims()),
    "other secret": jwt.encode(_claims(), b"x" * 32, algorithm="HS256"),
    "garbage": "not.a.jwt",
    "no dots": "garbage",
}


@pytest.mark.parametrize("token", BAD_HS256_TOKENS.values(), ids=BAD_HS256_TOKENS)
def test_every_bad_jwt_is_unauthenticated_as_invalid_token(token: str) -> None:
    _assert_invalid_token(_hs_verifier(), token)


def test_a_token_with_an_audience_fails_when_none_is_configured() -> None:
    _assert_invalid_token(JwtVerifier(SECRET, "HS256"), _hs256())
    assert JwtVerifier(SECRET, "HS256").verify(_hs256(aud=None, iss=None)).name == "carol"


def test_algorithm_confusion_with_the_public_key_as_hmac_secret_fails(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    pem = _public_pem(rsa_key)
    forged = _unsigned({"alg": "HS256", "typ": "JWT"}, _claims(roles=["admin"]), key=pem)
    _assert_invalid_token(JwtVerifier(pem, "RS256", issuer=ISSUER, audience=AUDIENCE), forged)


def test_an_rs256_verifier_refuses_a_token_signed_by_another_key(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    verifier = JwtVerifier(_public_pem(rsa_key), "RS256", issuer=ISSUER, audience=AUDIENCE)
    _assert_invalid_token(verifier, jwt.encode(_claims(), other, algorithm="RS256"))


def _assert_invalid_token(verifier: JwtVerifier, token: str) -> None:
    with pytest.raises(Unauthenticated) as refused:
        verifier.verify(token)
    assert refused.value.details["error"] == "invalid_token"
    assert refused.value.details["reason"]


def test_the_reason_says_briefly_what_was_wrong() -> None:
    reasons = {}
    for name in ("expired", "wrong issuer", "missing exp", "alg none", "missing roles"):
        with pytest.raises(Unauthenticated) as refused:
            _hs_verifier().verify(BAD_HS256_TOKENS[name])
        reasons[name] = refused.value.details["reason"]
    assert reasons == {
        "expired": "token expired",
        "wrong issuer": "wrong issuer",
        "missing exp": "missing claim exp",
        "alg none": "algorithm not allowed",
        "missing roles": "roles claim missing or invalid",
    }


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [
        (SECRET, "none"),
        (SECRET, "HS512"),
        (SECRET, "ES256"),
        (b"short", "HS256"),
        (b"", "HS256"),
        (b"not a pem", "RS256"),
    ],
)
def test_a_verifier_refuses_unsupported_algorithms_and_unusable_keys(
    key: bytes, algorithm: str
) -> None:
    with pytest.raises(ValueError):
        JwtVerifier(key, algorithm)


def test_an_rs256_verifier_wants_a_public_key_of_2048_bits(rsa_key: rsa.RSAPrivateKey) -> None:
    private_pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    for key in (private_pem, _public_pem(small)):
        with pytest.raises(ValueError):
            JwtVerifier(key, "RS256")
    with pytest.raises(ValueError):
        JwtVerifier(_public_pem(rsa_key), "HS256")


def test_verifiers_load_their_keys_from_files(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    (tmp_path / "secret").write_bytes(SECRET + b"\n")
    (tmp_path / "public.pem").write_bytes(_public_pem(rsa_key))
    hs = JwtVerifier.from_file(tmp_path / "secret", "HS256", ISSUER, AUDIENCE)
    rs = JwtVerifier.from_file(tmp_path / "public.pem", "RS256", None, None)
    assert hs.verify(_hs256()).name == "carol"
    rs_token = jwt.encode(_claims(aud=None, iss=None), rsa_key, algorithm="RS256")
    assert rs.verify(rs_token).name == "carol"


# --- Authorization header -------------------------------------------------------------


@pytest.fixture
def authenticator() -> Authenticator:
    store = TokenStore([{"principal": "alice", "sha256": _sha("sst_opaque"), "roles": ["author"]}])
    return Authenticator(store, _hs_verifier())


BAD_HEADERS = {
    "basic scheme": "Basic YWxpY2U6c2VjcmV0",
    "bearer alone": "Bearer",
    "bearer and a space": "Bearer ",
    "two tokens": "Bearer sst_opaque other",
    "two spaces": "Bearer  sst_opaque",
    "non-ascii token": "Bearer sst_opaqué",
    "kelvin sign": "Bearer \u212a",
    "control character": "Bearer sst_\x7fopaque",
    "10 KiB token": "Bearer " + "a" * 10240,
    "just over 8 KiB": "Bearer " + "a" * (8192 - 6),
}


@pytest.mark.parametrize("header", BAD_HEADERS.values(), ids=BAD_HEADERS)
def test_a_malformed_authorization_header_is_an_invalid_request(
    authenticator: Authenticator, header: str
) -> None:
    with pytest.raises(Unauthenticated) as refused:
        authenticator.authenticate(header)
    assert refused.value.details == {"error": "invalid_request"}


@pytest.mark.parametrize("header", [None, ""])
def test_a_missing_token_is_unauthenticated_with_no_error_code(
    authenticator: Authenticator, header: str | None
) -> None:
    with pytest.raises(Unauthenticated) as refused:
        authenticator.authenticate(header)
    assert refused.value.details == {}
    assert www_authenticate(refused.value) == 'Bearer realm="specsvc"'


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_scheme_is_case_insensitive(authenticator: Authenticator, scheme: str) -> None:
    assert authenticator.authenticate(f"{scheme} sst_opaque").name == "alice"


def test_jwts_go_to_the_verifier_and_other_tokens_to_the_store(
    authenticator: Authenticator,
) -> None:
    assert authenticator.authenticate("Bearer sst_opaque").roles == {"author"}
    assert authenticator.authenticate(f"Bearer {_hs256()}").roles == {"publisher"}
    for unknown in ("sst_unknown", "a" * (8192 - 7)):
        with pytest.raises(Unauthenticated) as refused:
            authenticator.authenticate(f"Bearer {unknown}")
        assert refused.value.details == {"error": "invalid_token", "reason": "unknown token"}
        assert www_authenticate(refused.value) == 'Bearer realm="specsvc", error="invalid_token"'


def test_with_only_one_kind_of_token_the_other_kind_is_invalid() -> None:
    token_only = Authenticator(TokenStore([]), None)
    jwt_only = Authenticator(None, _hs_verifier())
    for authenticator, token in ((token_only, _hs256()), (jwt_only, "sst_opaque")):
        assert not authenticator.anonymous
        with pytest.raises(Unauthenticated) as refused:
            authenticator.authenticate(f"Bearer {token}")
        assert refused.value.details["error"] == "invalid_token"


@pytest.mark.parametrize("header", [None, "", "Basic x", "Bearer whatever"])
def test_with_nothing_configured_everyone_is_anonymous(header: str | None) -> None:
    authenticator = Authenticator(None, None)
    assert authenticator.anonymous
    assert authenticator.authenticate(header) is ANONYMOUS


def test_www_authenticate_names_the_rfc6750_error_code() -> None:
    invalid = Unauthenticated("x", details={"error": "invalid_request"})
    assert www_authenticate(invalid) == 'Bearer realm="specsvc", error="invalid_request"'
    odd = Unauthenticated("x", details={"error": 'a", realm="evil'})
    assert www_authenticate(odd) == 'Bearer realm="specsvc"'


def test_an_authenticator_is_built_from_settings(tmp_path: Path) -> None:
    assert Authenticator.from_settings(Settings()).anonymous
    tokens, secret = tmp_path / "tokens.yaml", tmp_path / "jwt.key"
    token, digest = new_token()
    tokens.write_text("tokens:\n" + token_entry("dora", ["admin"], digest))
    secret.write_bytes(SECRET + b"\n")
    settings = Settings(
        auth_tokens_file=str(tokens),
        jwt_key_file=str(secret),
        jwt_algorithm="HS256",
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
    )
    authenticator = Authenticator.from_settings(settings)
    assert authenticator.authenticate(f"Bearer {token}") == Principal("dora", frozenset({"admin"}))
    assert authenticator.authenticate(f"Bearer {_hs256()}").name == "carol"
