"""The REST adapter: a thin Flask app over ``SpecService`` (docs/behaviour.md, REST API)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request

from rest_api.audit import audit
from rest_api.catalog import catalog
from rest_api.context import ACTIONS, account, begin_request
from rest_api.direct import DirectReads
from rest_api.errors import register_error_handlers
from rest_api.operations import operations
from rest_api.representations import JSONProvider, PublishedBodies
from rest_api.specs import specs
from specsvc import SpecService
from specsvc.auth import Authenticator
from specsvc.observability.metrics import COMMANDS

# The write endpoints, counted by command in specsvc_commands_total.
COMMAND_ENDPOINTS = {endpoint: action for endpoint, action in ACTIONS.items() if action != "read"}


class App(Flask):
    """Flask, asking once per view or hook whether it is a coroutine function: Flask asks
    on every call (``inspect``), four times a request, and none of these is one."""

    _sync: dict[Callable[..., Any], Callable[..., Any]]

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        known = self.__dict__.setdefault("_sync", {})
        sync = known.get(func)
        if sync is None:
            sync = known[func] = super().ensure_sync(func)
        return sync


def create_app(
    service: SpecService,
    authenticator: Authenticator | None = None,
    *,
    max_request_bytes: int | None = None,
) -> Flask:
    """A Flask app serving ``service``; anonymous (every role) when no authenticator."""
    app = App(__name__, static_folder=None)  # an API: no static files, no such route
    app.json = JSONProvider(app)
    app.extensions["specsvc"] = service
    app.extensions["specsvc.auth"] = authenticator or Authenticator(None, None)
    app.extensions["specsvc.published"] = PublishedBodies(app.json)
    app.config["SPECSVC_MAX_REQUEST_BYTES"] = max_request_bytes or max(
        65536, 8 * service.settings.max_spec_bytes
    )
    app.before_request(begin_request)
    app.after_request(_finish)
    register_error_handlers(app)
    for blueprint in (specs, audit, catalog, operations):
        app.register_blueprint(blueprint)
    app.wsgi_app = DirectReads(app, app.wsgi_app)  # type: ignore[method-assign]
    return app


def _finish(response: Response) -> Response:
    context = g._get_current_object()
    correlation_id = context.get("correlation_id")
    response.headers["X-Correlation-ID"] = correlation_id or ""
    rule = request.url_rule
    route = rule.rule if rule else "unmatched"
    seconds = time.perf_counter() - context.started
    account(
        route, request.method, response.status_code, seconds, correlation_id,
        context.get("principal"),
    )  # fmt: skip
    command = COMMAND_ENDPOINTS.get(request.endpoint or "")
    if command:
        COMMANDS.labels(command, g.get("error_code") or "ok").inc()
    return response
