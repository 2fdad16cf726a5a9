"""/v1/specs: the spec resource, its lifecycle commands and its history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from rest_api.context import command_meta, service
from rest_api.representations import (
    DIFF,
    JSON,
    YAML,
    PublishedBodies,
    content_or_json,
    etag,
    if_match_revision,
    not_modified,
    raw_text,
    single_revision,
)
from rest_api.requests import json_body, min_position, query, wants
from specsvc.errors import BadRequest

specs = Blueprint("specs", __name__, url_prefix="/v1/specs")


def _with_etag(spec: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(spec)
    response.status_code = status
    response.headers["ETag"] = etag(spec["revision"])
    changed = getattr(spec, "changed", None)  # a command's answer says if it recorded an event
    if changed is not None:
        response.headers["X-Spec-Changed"] = "true" if changed else "false"
    return response


def _revision_demanded(name: str) -> int | None:
    if not request.headers.get("If-Match"):
        return None
    # One revision is checked by the command itself, after an idempotent retry has had
    # the chance to answer as it first did; a list or "*" is settled against the spec now.
    single = single_revision()
    if single is not None:
        return single
    return if_match_revision(service().get_spec(name)["revision"])


@specs.post("")
def create() -> Response:
    meta = command_meta()
    body = json_body()
    if request.headers.get("If-Match"):
        if_match_revision(None)
    spec = service().create_spec(
        body["name"], body["type"], body["content"], reason=body["reason"], **meta
    )
    response = _with_etag(spec, 201)
    response.headers["Location"] = url_for("specs.get_spec", name=spec["name"])
    return response


@specs.get("")
def list_specs() -> Any:
    params = query(
        {
            "state": "string",
            "type": "string",
            "name_prefix": "string",
            "limit": "integer",
            "page_token": "string",
        }
    )
    return service().list_specs(**params, min_position=min_position())


@specs.get("/<name>")
def get_spec(name: str) -> Response:
    params = query({"as_of": "datetime"})
    spec = service().get_spec(name, as_of=params.get("as_of"), min_position=min_position())
    if not_modified(spec["revision"]):
        response = Response(status=304)
        response.headers["ETag"] = etag(spec["revision"])
        return response
    return _with_etag(spec)


@specs.put("/<name>/content")
def update(name: str) -> Response:
    meta = command_meta()
    body = json_body()
    spec = service().update_spec(
        name,
        body["content"],
        reason=body["reason"],
        expected_version=body["expected_version"],
        expected_revision=_revision_demanded(name),
        **meta,
    )
    return _with_etag(spec)


@specs.post("/<name>/publish")
def publish(name: str) -> Response:
    meta = command_meta()
    body = json_body()
    spec = service().publish_spec(
        name,
        reason=body["reason"],
        version=body["version"],
        expected_revision=_revision_demanded(name),
        **meta,
    )
    return _with_etag(spec)


@specs.post("/<name>/deprecate")
def deprecate(name: str) -> Response:
    meta = command_meta()
    body = json_body()
    spec = service().deprecate_spec(
        name, reason=body["reason"], expected_revision=_revision_demanded(name), **meta
    )
    return _with_etag(spec)


@specs.post("/<name>/delete")
def delete(name: str) -> Response:
    meta = command_meta()
    body = json_body()
    spec = service().delete_spec(
        name, reason=body["reason"], expected_revision=_revision_demanded(name), **meta
    )
    return _with_etag(spec)


@specs.get("/<name>/published")
def published(name: str) -> Response:
    # rest_api/direct.py answers the plain case of this view first, in the same words.
    params = query({"as_of": "datetime"})
    served = service().get_published(name, as_of=params.get("as_of"), min_position=min_position())
    media_type = YAML if wants(YAML) else JSON
    bodies: PublishedBodies = current_app.extensions["specsvc.published"]
    response = Response(bodies.body(name, served, media_type), mimetype=media_type)
    if served["state"] == "deprecated":
        response.headers["Deprecation"] = "true"
    return response


@specs.get("/<name>/versions")
def versions(name: str) -> Any:
    query({})
    return service().list_versions(name, min_position=min_position())


@specs.get("/<name>/versions/<version>")
def version(name: str, version: str) -> Any:
    query({})
    number = _path_int(version, "version")
    return content_or_json(service().get_version(name, number, min_position=min_position()))


@specs.get("/<name>/diff")
def diff(name: str) -> Any:
    params = query({"from": "integer", "to": "integer"})
    if "from" not in params or "to" not in params:
        raise BadRequest("diff needs both from and to versions")
    result = service().diff(name, params["from"], params["to"], min_position=min_position())
    return raw_text(result["diff"], DIFF) if wants(DIFF) else result


@specs.get("/<name>/history")
def history(name: str) -> Any:
    query({})
    return service().history(name, min_position=min_position())


@specs.post("/<name>/evaluate")
def evaluate(name: str) -> Any:
    body = json_body()
    return service().evaluate(
        name, body["input"], version=body["version"], min_position=min_position()
    )


def _path_int(raw: str, name: str) -> int:
    if not (raw.isascii() and raw.isdecimal()) or len(raw) > 12:
        raise BadRequest(f"{name} must be a positive integer")
    return int(raw)
