"""The test principals: their bearer tokens, a tokens store, and JWTs signed for them."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from specsvc.auth import Authenticator, JwtVerifier, TokenStore

ISSUER = "https://issuer.example"
AUDIENCE = "specsvc"

# principal -> roles; "carol" holds two roles so that four-eyes has someone to stop.
PRINCIPALS: dict[str, tuple[str, ...]] = {
    "rita": ("reader",),
    "alice": ("author",),
    "bob": ("author",),
    "paul": ("publisher",),
    "penny": ("publisher",),
    "ada": ("admin",),
    "carol": ("author", "publisher"),
}
ROLE_PRINCIPAL = {"reader": "rita", "author": "alice", "publisher": "paul", "admin": "ada"}


def token_of(principal: str) -> str:
    return f"sst_test-token-of-{principal}"


def token_store() -> TokenStore:
    entries = [
        {
            "principal": name,
            "sha256": hashlib.sha256(token_of(name).encode()).hexdigest(),
            "roles": list(roles),
        }
        for name, roles in PRINCIPALS.items()
    ]
    return TokenStore(entries)


@dataclass(frozen=True)
class JwtKeys:
    hs256_secret: bytes
    rsa_private: rsa.RSAPrivateKey
    rsa_public_pem: bytes


def make_keys() -> JwtKeys:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return JwtKeys(secrets.token_bytes(32), private, public_pem)


def claims(subject: str = "jwt-jane", roles: tuple[str, ...] = ("admin",), **extra: Any) -> dict:
    now = int(time.time())
    base = {"sub": subject, "roles": list(roles), "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600}
    return {**base, "iat": now, **extra}


def hs256_token(keys: JwtKeys, **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), keys.hs256_secret, algorithm="HS256")


def authenticator(keys: JwtKeys) -> Authenticator:
    """The test principals' tokens, plus HS256 JWTs signed with ``keys``."""
    verifier = JwtVerifier(keys.hs256_secret, "HS256", issuer=ISSUER, audience=AUDIENCE)
    return Authenticator(token_store(), verifier)
