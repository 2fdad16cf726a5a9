"""Per-request context: the service, the authenticated principal, the correlation id."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

from flask import current_app, g, request

from specsvc import SpecService
from specsvc.auth import Authenticator, Principal, authorize
from specsvc.errors import BadRequest

CORRELATION_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


def service() -> SpecService:
    return current_app.extensions["specsvc"]


def begin_request() -> None:
    """Runs before every view: correlation id first, so even a 401 carries one."""
    given = request.headers.get("X-Correlation-ID")
    g.correlation_id = str(uuid4())
    if given is not None:
        if not CORRELATION_ID.fullmatch(given):
            raise BadRequest("X-Correlation-ID must be 1-128 visible ASCII characters")
        g.correlation_id = given
    if request.path.startswith("/v1/"):
        authenticator: Authenticator = current_app.extensions["specsvc.auth"]
        g.principal = authenticator.authenticate(request.headers.get("Authorization"))


def allowed(action: str) -> Principal:
    """The principal, if it may do ``action``; PermissionDenied otherwise."""
    principal: Principal = g.principal
    authorize(principal, action)
    return principal


def command_meta(action: str) -> dict[str, Any]:
    """Who does it and under which correlation id: never a client-supplied name."""
    return {"actor": allowed(action).name, "correlation_id": g.correlation_id}
