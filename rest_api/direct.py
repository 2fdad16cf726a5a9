"""``GET /v1/specs/NAME/published`` answered in front of Flask when nothing needs Flask.

The read consumers make most. The Flask app's request context, routing, hooks and
response object cost about as much as the rest of the read, so ``DirectReads``, the
app's WSGI entry, answers the plain case of that view itself: a GET of a name of ASCII
letters, digits and ``._~-``, with no query string and no ``X-Min-Position``. It
answers only a success: a request it would have to refuse (a malformed correlation id,
a missing or refused token, a spec not found or not served, any error) is passed to
Flask untouched, which answers it as any other. Headers, body, metrics and the access
log are the Flask view's (``rest_api/specs.py``; a test holds the two together).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from rest_api.context import account, correlation_id
from rest_api.representations import JSON, YAML, PublishedBodies
from rest_api.requests import prefers
from specsvc import SpecService
from specsvc.auth import Authenticator, authorize

PUBLISHED = re.compile(r"/v1/specs/([A-Za-z0-9._~-]{1,256})/published")
ROUTE = "/v1/specs/<name>/published"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class DirectReads:
    def __init__(self, app: Flask, flask: WSGIApp) -> None:
        self.flask = flask  # the app's own WSGI entry: everything not answered here
        self._service: SpecService = app.extensions["specsvc"]
        self._authenticator: Authenticator = app.extensions["specsvc.auth"]
        self._bodies: PublishedBodies = app.extensions["specsvc.published"]

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        match = None
        if (
            environ["REQUEST_METHOD"] == "GET"
            and not environ.get("QUERY_STRING")
            and not environ.get("SCRIPT_NAME")
            and "HTTP_X_MIN_POSITION" not in environ
        ):
            match = PUBLISHED.fullmatch(environ.get("PATH_INFO", ""))
        if match is None:
            return self.flask(environ, start_response)
        started = time.perf_counter()
        try:
            tag = correlation_id(environ.get("HTTP_X_CORRELATION_ID"))
            principal = self._authenticator.authenticate(environ.get("HTTP_AUTHORIZATION"))
            authorize(principal, "read")
            media_type = YAML if prefers(environ.get("HTTP_ACCEPT"), YAML) else JSON
            name = match[1]
            served = self._service.get_published(name)
            body = self._bodies.body(name, served, media_type)
        except Exception:  # an error: Flask answers it, as it answers every error
            return self.flask(environ, start_response)
        headers = [("Content-Type", media_type), ("Content-Length", str(len(body)))]
        if served["state"] == "deprecated":
            headers.append(("Deprecation", "true"))
        headers.append(("X-Correlation-ID", tag))
        start_response("200 OK", headers)
        account(ROUTE, "GET", 200, time.perf_counter() - started, tag, principal)
        return [body]
