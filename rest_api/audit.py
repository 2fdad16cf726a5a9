"""/v1/events: the global audit log in commit order."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from rest_api.context import service
from rest_api.requests import min_position, query

audit = Blueprint("audit", __name__, url_prefix="/v1/events")


@audit.get("")
def list_events() -> Any:
    params = query(
        {
            "after": "integer",
            "limit": "integer",
            "actor": "string",
            "spec": "string",
            "since": "datetime",
            "until": "datetime",
        }
    )
    return service().list_events(**params, min_position=min_position())
