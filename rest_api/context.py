"""Per-request context: the service, the authenticated principal, the correlation id.

Authorisation is declared, not called: ``ACTIONS`` maps every endpoint to the action it
needs and ``PUBLIC`` lists the endpoints open without a token. An endpoint in neither is
refused to everyone, so a new route is closed until it is classified.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, cast

from flask import current_app, g, request

from specsvc import SpecService
from specsvc.auth import Authenticator, Principal, authorize
from specsvc.errors import BadRequest, PermissionDenied
from specsvc.observability.ids import new_correlation_id
from specsvc.observability.metrics import http_labels, observe_request

access = logging.getLogger("specsvc.access")
CORRELATION_ID = re.compile(r"^[\x21-\x7e]{1,128}$")

ACTIONS: dict[str, str] = {
    "specs.create": "create",
    "specs.update": "update",
    "specs.publish": "publish",
    "specs.deprecate": "deprecate",
    "specs.delete": "delete",
    **{
        endpoint: "read"
        for endpoint in (
            "specs.list_specs",
            "specs.get_spec",
            "specs.published",
            "specs.versions",
            "specs.version",
            "specs.diff",
            "specs.history",
            "specs.evaluate",
            "audit.list_events",
            "catalog.list_types",
            "catalog.get_type",
            "catalog.validate",
        )
    },
}
PUBLIC = frozenset(
    {"operations.healthz", "operations.readyz", "operations.metrics", "operations.openapi"}
)


def service() -> SpecService:
    return current_app.extensions["specsvc"]


def begin_request() -> None:
    """Runs before every view: the clock starts, then the correlation id, so even a 401
    carries one."""
    # The objects behind the proxies, looked up once instead of on every attribute.
    context, current = g._get_current_object(), cast(Any, request)._get_current_object()
    context.started = time.perf_counter()
    headers = current.headers
    context.correlation_id = new_correlation_id()  # a malformed one is answered with this
    given = headers.get("X-Correlation-ID")
    if given is not None:
        context.correlation_id = correlation_id(given)
    endpoint = current.endpoint
    if endpoint in PUBLIC:
        return
    if endpoint is None and not current.path.startswith("/v1/"):
        return  # no such route: answered 404 or 405 without asking who is calling
    authenticator: Authenticator = current_app.extensions["specsvc.auth"]
    context.principal = authenticator.authenticate(headers.get("Authorization"))
    if endpoint is None:
        return
    action = ACTIONS.get(endpoint)
    if action is None:
        raise PermissionDenied(f"{endpoint} is not open to anyone", details={"route": endpoint})
    authorize(context.principal, action)


def correlation_id(given: str | None) -> str:
    """The request's correlation id: the one it sent, else a new one; BadRequest for a
    malformed one."""
    if given is None:
        return new_correlation_id()
    if not CORRELATION_ID.fullmatch(given):
        raise BadRequest("X-Correlation-ID must be 1-128 visible ASCII characters")
    return given


def account(
    route: str,
    method: str,
    status: int,
    seconds: float,
    correlation_id: str | None,
    principal: Principal | None,
) -> None:
    """Count and time an answered request, and log it when INFO is logged."""
    observe_request("rest", *http_labels(route, method, status), seconds)
    if access.isEnabledFor(logging.INFO):
        access.info(
            "request",
            extra={
                "api": "rest",
                "route": route,
                "method": method,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "correlation_id": correlation_id,
                "actor": principal.name if principal else None,
            },
        )


def command_meta() -> dict[str, Any]:
    """Who does it, under which correlation id (never a client-supplied name), and the
    request's idempotency key, if it sent one."""
    principal: Principal = g.principal
    return {
        "actor": principal.name,
        "correlation_id": g.correlation_id,
        "idempotency_key": request.headers.get("Idempotency-Key"),
    }
