"""From an ``Authorization`` header to a Principal, for the REST and gRPC adapters."""

from __future__ import annotations

import re

from specsvc.auth.jwt_verifier import JwtVerifier, invalid_token
from specsvc.auth.roles import ANONYMOUS, Principal
from specsvc.auth.tokens import TokenFile, TokenStore
from specsvc.config import Settings
from specsvc.errors import Unauthenticated

MAX_HEADER_BYTES = 8192
# re.ASCII keeps IGNORECASE from letting non-ASCII look-alikes (the Kelvin sign) match.
BEARER = re.compile(r"bearer ([\x21-\x7e]+)", re.IGNORECASE | re.ASCII)
RFC6750_ERRORS = frozenset({"invalid_request", "invalid_token", "insufficient_scope"})


class Authenticator:
    """Bearer tokens from a TokenStore and/or JWTs; anonymous when neither is set."""

    def __init__(
        self, tokens: TokenStore | TokenFile | None = None, jwt: JwtVerifier | None = None
    ):
        self._tokens = tokens
        self._jwt = jwt

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        """Load the tokens file and the JWT key that ``settings`` name, if any."""
        tokens = None
        if settings.auth_tokens_file:
            tokens = TokenFile(settings.auth_tokens_file)
        verifier = None
        if settings.jwt_key_file:
            verifier = JwtVerifier.from_file(
                settings.jwt_key_file,
                settings.jwt_algorithm,
                settings.jwt_issuer,
                settings.jwt_audience,
            )
        return cls(tokens, verifier)

    def reload_tokens(self) -> bool:
        """Read the tokens file again now (SIGHUP); True when new tokens apply."""
        return isinstance(self._tokens, TokenFile) and self._tokens.reload()

    @property
    def anonymous(self) -> bool:
        return self._tokens is None and self._jwt is None

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller named by an ``Authorization`` header value, or Unauthenticated."""
        if self.anonymous:
            return ANONYMOUS
        token = bearer_token(authorization)
        if self._jwt is not None and token.count(".") == 2:
            return self._jwt.verify(token)
        principal = self._tokens.authenticate(token) if self._tokens else None
        if principal is None:
            raise invalid_token("unknown token")
        return principal


def bearer_token(authorization: str | None) -> str:
    """The token of a ``Bearer <token>`` header value; Unauthenticated otherwise."""
    if not authorization:
        # RFC 6750 3.1: a request with no credentials gets no error code.
        raise Unauthenticated("a bearer token is required")
    match = None
    if len(authorization) <= MAX_HEADER_BYTES:
        match = BEARER.fullmatch(authorization)
    if match is None:
        raise Unauthenticated(
            "the Authorization header must be 'Bearer <token>'",
            details={"error": "invalid_request"},
        )
    return match.group(1)


def www_authenticate(error: Unauthenticated) -> str:
    """The ``WWW-Authenticate`` header value to send with ``error``."""
    value = 'Bearer realm="specsvc"'
    code = error.details.get("error")
    # Only the RFC's own codes go into the quoted string, so nothing can break out of it.
    if code in RFC6750_ERRORS:
        value += f', error="{code}"'
    return value
