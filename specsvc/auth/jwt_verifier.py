"""JSON Web Tokens (HS256 or RS256, via PyJWT) turned into principals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import get_default_algorithms
from jwt.types import Options

from specsvc.auth.roles import Principal, parse_roles, principal_problem
from specsvc.errors import Unauthenticated

SUPPORTED_ALGORITHMS = ("HS256", "RS256")

# Most specific first: the first class the error is an instance of gives the reason.
REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.DecodeError, "malformed token"),
    (jwt.InvalidTokenError, "invalid claims"),
)


class JwtVerifier:
    """Verify a JWT signed with one pinned algorithm and map it to a Principal."""

    def __init__(
        self,
        key: str | bytes,
        algorithm: str,
        *,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: float = 30,
    ):
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise ValueError(f"JWT algorithm must be one of {SUPPORTED_ALGORITHMS}")
        self.algorithm = algorithm
        self._key = _prepare_key(key, algorithm)
        self._issuer, self._audience, self._leeway = issuer, audience, leeway
        required = ["exp", "sub"]
        required += ["iss"] if issuer else []
        required += ["aud"] if audience else []
        self._options: Options = {"require": required}

    @classmethod
    def from_file(
        cls, path: str | Path, algorithm: str, issuer: str | None, audience: str | None
    ) -> JwtVerifier:
        """Read the HS256 secret or the RS256 PEM public key from ``path``."""
        key = Path(path).read_bytes()
        if algorithm == "HS256":
            key = key.rstrip(b"\r\n")
        return cls(key, algorithm, issuer=issuer, audience=audience)

    def verify(self, token: str) -> Principal:
        """The principal the token names, or Unauthenticated saying why not."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self.algorithm],
                options=self._options,
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
            )
        # The token is untrusted input: no decoding failure may become a 500.
        except Exception as error:
            raise invalid_token(_reason(error)) from error
        return _principal(claims)


def invalid_token(reason: str) -> Unauthenticated:
    return Unauthenticated(
        "the bearer token is invalid", details={"error": "invalid_token", "reason": reason}
    )


def _prepare_key(key: str | bytes, algorithm: str) -> Any:
    # Parsing and checking the key once at start-up turns a bad key into an operator
    # error now, rather than into every request failing as Unauthenticated later.
    verifier = get_default_algorithms()[algorithm]
    try:
        prepared = verifier.prepare_key(key)
    except (jwt.InvalidKeyError, ValueError, TypeError) as error:
        raise ValueError(f"unusable {algorithm} key: {error}") from None
    if algorithm == "RS256" and not isinstance(prepared, RSAPublicKey):
        raise ValueError("the RS256 key must be a PEM RSA public key, not a private key")
    weakness = verifier.check_key_length(prepared)
    if weakness:
        raise ValueError(weakness)
    return prepared


def _reason(error: Exception) -> str:
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"missing claim {error.claim}"
    for kind, reason in REASONS:
        if isinstance(error, kind):
            return reason
    return "malformed token"


def _principal(claims: dict[str, Any]) -> Principal:
    subject = claims["sub"]
    problem = principal_problem(subject)
    if problem is not None:
        raise invalid_token(f"sub {problem}")
    try:
        return Principal(subject, parse_roles(claims.get("roles")))
    except ValueError:
        raise invalid_token("roles claim missing or invalid") from None
