"""Response bodies: RFC 3339 timestamps in JSON, raw YAML and diff text, entity tags."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

from flask import Response, request
from flask.json.provider import DefaultJSONProvider

from rest_api.requests import wants
from specsvc.errors import PreconditionFailed
from specsvc.service.memo import Renderings

YAML = "application/yaml"
JSON = "application/json"
DIFF = "text/x-diff"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class JSONProvider(DefaultJSONProvider):
    """Flask's provider with RFC 3339 timestamps instead of HTTP dates."""

    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return rfc3339(o)
        return DefaultJSONProvider.default(o)


def etag(revision: int) -> str:
    return f'"{revision}"'


def not_modified(revision: int) -> bool:
    """Does the request's If-None-Match already hold this revision?"""
    tags = request.if_none_match
    return bool(tags) and (tags.star_tag or tags.contains_weak(str(revision)))


def if_match_revision(current: int | None) -> int | None:
    """The revision an If-Match header demands (None: no condition); strong comparison."""
    tags = request.if_match
    if not tags or (tags.star_tag and current is not None):
        return None
    strong = {int(t) for t in tags.as_set() if is_revision(t)}
    if current is not None and current in strong:
        return current
    raise PreconditionFailed(
        "If-Match does not match the spec's current revision", details={"revision": current}
    )


def single_revision() -> int | None:
    """The revision If-Match demands when it names exactly one strong revision tag."""
    tags = request.if_match
    if tags.star_tag:
        return None
    strong = [tag for tag in tags.as_set() if is_revision(tag)]
    weak_or_odd = len(tags.as_set(include_weak=True)) != len(strong)
    return int(strong[0]) if len(strong) == 1 and not weak_or_odd else None


def is_revision(tag: str | None) -> bool:
    """An entity tag this service could have issued: 1-12 ASCII digits."""
    return tag is not None and tag.isascii() and tag.isdecimal() and 0 < len(tag) <= 12


def raw_text(text: str, media_type: str) -> Response:
    return Response(text, mimetype=media_type)


def content_or_json(payload: dict[str, Any], *, yaml_field: str = "content") -> Any:
    if wants(YAML):
        return raw_text(payload[yaml_field], YAML)
    return payload


class PublishedBodies:
    """What consumers are served (``GET .../published``), rendered once per answer
    (``Renderings``). JSON bodies are jsonify's, byte for byte."""

    def __init__(self, json: DefaultJSONProvider, size: int = 2048) -> None:
        self._json = json
        self._bodies: Renderings[bytes] = Renderings(size)

    def body(self, name: str, answer: dict[str, Any], media_type: str) -> bytes:
        return self._bodies.rendered((name, media_type), answer, partial(self._render, media_type))

    def _render(self, media_type: str, answer: dict[str, Any]) -> bytes:
        if media_type == YAML:
            return bytes(raw_text(answer["content"], YAML).get_data())
        return bytes(cast(Response, self._json.response(answer)).get_data())
