"""The REST adapter: a thin Flask app over ``SpecService`` (docs/behaviour.md, REST API)."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from rest_api.audit import audit
from rest_api.catalog import catalog
from rest_api.context import ACTIONS, begin_request
from rest_api.errors import register_error_handlers
from rest_api.operations import operations
from rest_api.representations import JSONProvider
from rest_api.specs import specs
from specsvc import SpecService
from specsvc.auth import Authenticator
from specsvc.observability.metrics import COMMANDS, http_labels, observe_request

access = logging.getLogger("specsvc.access")

# The write endpoints, counted by command in specsvc_commands_total.
COMMAND_ENDPOINTS = {endpoint: action for endpoint, action in ACTIONS.items() if action != "read"}


def create_app(
    service: SpecService,
    authenticator: Authenticator | None = None,
    *,
    max_request_bytes: int | None = None,
) -> Flask:
    """A Flask app serving ``service``; anonymous (every role) when no authenticator."""
    app = Flask(__name__, static_folder=None)  # an API: no static files, no such route
    app.json = JSONProvider(app)
    app.extensions["specsvc"] = service
    app.extensions["specsvc.auth"] = authenticator or Authenticator(None, None)
    app.config["SPECSVC_MAX_REQUEST_BYTES"] = max_request_bytes or max(
        65536, 8 * service.settings.max_spec_bytes
    )
    app.before_request(_start_timer)
    app.before_request(begin_request)
    app.after_request(_finish)
    register_error_handlers(app)
    for blueprint in (specs, audit, catalog, operations):
        app.register_blueprint(blueprint)
    return app


def _start_timer() -> None:
    g.started = time.perf_counter()


def _finish(response: Response) -> Response:
    response.headers["X-Correlation-ID"] = g.get("correlation_id", "")
    route = request.url_rule.rule if request.url_rule else "unmatched"
    seconds = time.perf_counter() - g.started
    observe_request("rest", *http_labels(route, request.method, response.status_code), seconds)
    principal = g.get("principal")
    access.info(
        "request",
        extra={
            "api": "rest",
            "route": route,
            "method": request.method,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 3),
            "correlation_id": g.get("correlation_id"),
            "actor": principal.name if principal else None,
        },
    )
    command = COMMAND_ENDPOINTS.get(request.endpoint or "")
    if command:
        COMMANDS.labels(command, g.get("error_code") or "ok").inc()
    return response
