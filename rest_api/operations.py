"""Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from rest_api.context import service
from rest_api.openapi import openapi_document
from specsvc.auth import Authenticator
from specsvc.errors import SpecServiceError
from specsvc.observability.metrics import PROJECTION_HEALTHY, PROJECTION_LAG, REGISTRY

operations = Blueprint("operations", __name__)


@operations.get("/healthz")
def healthz() -> Any:
    # Which process answered: with ``serve --workers N``, one of N sharing the port.
    return {"status": "ok", "pid": os.getpid()}


@operations.get("/readyz")
def readyz() -> Response:
    status: dict[str, Any]
    try:
        status = dict(service().projection_status())
    except SpecServiceError as error:
        status = {"caught_up": False, "lag": None, "error": error.message}
    store = service().store_status()
    ready = bool(status["caught_up"]) and store["state"] == "ok"
    # A degraded query cache does not make the service unready: reads are answered from
    # the store meanwhile (docs/behaviour.md, Query cache). A corrupted store does.
    body = {
        "status": "ready" if ready else "not ready",
        "projections": status,
        "store": store,
        "cache": service().cache_status(),
    }
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    return response


@operations.get("/metrics")
def metrics() -> Response:
    try:
        status = service().projection_status()
        PROJECTION_LAG.set(status["lag"])
        PROJECTION_HEALTHY.set(1 if status["caught_up"] else 0)
    except SpecServiceError:
        PROJECTION_HEALTHY.set(0)
    service().cache_status()  # sets specsvc_cache_state
    return Response(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


@operations.get("/openapi.json")
def openapi() -> Any:
    authenticator: Authenticator = current_app.extensions["specsvc.auth"]
    return openapi_document(anonymous=authenticator.anonymous)
