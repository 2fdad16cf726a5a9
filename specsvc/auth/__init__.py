"""Authentication and authorisation, shared by the REST and gRPC adapters (docs/behaviour.md,
Authentication and roles).

``Authenticator.authenticate(header)`` turns an ``Authorization`` header value into a
``Principal``; ``authorize(principal, action)`` checks the action against its roles.
Neither knows about Flask or gRPC.
"""

from specsvc.auth.authenticator import Authenticator, bearer_token, www_authenticate
from specsvc.auth.jwt_verifier import SUPPORTED_ALGORITHMS, JwtVerifier
from specsvc.auth.roles import (
    ACTIONS,
    ANONYMOUS,
    GRANTS,
    ROLES,
    Principal,
    authorize,
    principal_problem,
    same_person,
)
from specsvc.auth.tokens import TokenFile, TokenStore, new_token, token_entry

__all__ = [
    "ACTIONS",
    "ANONYMOUS",
    "GRANTS",
    "ROLES",
    "SUPPORTED_ALGORITHMS",
    "Authenticator",
    "JwtVerifier",
    "Principal",
    "TokenFile",
    "TokenStore",
    "authorize",
    "bearer_token",
    "new_token",
    "principal_problem",
    "same_person",
    "token_entry",
    "www_authenticate",
]
