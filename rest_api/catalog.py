"""/v1/types and /v1/validate: the spec types and dry-run validation."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from rest_api.context import service
from rest_api.requests import json_body, query

catalog = Blueprint("catalog", __name__, url_prefix="/v1")


@catalog.get("/types")
def list_types() -> Any:
    query({})
    return service().list_types()


@catalog.get("/types/<name>")
def get_type(name: str) -> Any:
    query({})
    return service().get_type(name)


@catalog.post("/validate")
def validate() -> Any:
    body = json_body()
    return service().validate(body["type"], body["content"])
