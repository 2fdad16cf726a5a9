"""Reading requests strictly: bounded bodies, exact JSON fields, exact query parameters."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import current_app, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from rest_api.bodies import BODIES, Field, Presence
from specsvc.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from specsvc.service.consistency import parse_min_position

RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,30})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
MAX_QUERY_VALUE = 512
JSON_TYPES = {"string": str, "object": dict}


def read_body() -> bytes:
    """The request body, never more than the configured limit; 413 without reading more."""
    limit = current_app.config["SPECSVC_MAX_REQUEST_BYTES"]
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"request body over {limit} bytes", details={"limit": limit})
    # Chunked bodies have no length: read at most one byte past the cap, never truncate.
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"request body over {limit} bytes", details={"limit": limit})
    return data


def json_body() -> dict[str, Any]:
    """The current endpoint's JSON body, read as ``bodies.BODIES`` declares it.

    Every declared field is in the answer, None when absent or null; unknown fields, and
    fields missing, null or of the wrong JSON type where the declaration forbids it, are
    BadRequest naming the field.
    """
    fields = BODIES[str(request.endpoint)]
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("JSON bodies must be UTF-8")
    body = _parse_json(read_body())
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)}", details={"fields": unknown})
    return {name: _field(name, field, body.get(name)) for name, field in fields.items()}


def _field(name: str, field: Field, value: Any) -> Any:
    if value is None and field.presence is not Presence.REQUIRED:
        return None
    read = _as_kind(value, field.kind) if value is not None else None
    if read is None:
        raise BadRequest(_wrong_type(name, field), details={"field": name, "expected": field.kind})
    return read


def _wrong_type(name: str, field: Field) -> str:
    # Names the field and the JSON type it needs; never echoes the value sent.
    if field.presence is Presence.REQUIRED:
        return f"{name} is required and must be a JSON {field.kind}"
    if field.presence is Presence.OPTIONAL:
        return f"{name} must be a JSON {field.kind} or null"
    return f"{name} must be a JSON {field.kind}"


def _parse_json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_no_constants,
        )
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"malformed JSON: {str(error)[:200]}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("JSON strings must be valid Unicode (a lone surrogate was sent)") from None
    return body


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate keys in an object")
    return dict(pairs)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _as_kind(value: Any, kind: str) -> Any:
    """``value`` read as a JSON ``kind``, or None when it is not one."""
    if kind == "integer":
        return _integer(value)
    return value if isinstance(value, JSON_TYPES[kind]) else None


def _integer(value: Any) -> int | None:
    # JSON has one kind of number: 7778.0 is the integer 7778, as OpenAPI 3.1's integer
    # says. A boolean is never one, though Python counts it as an int.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():  # never NaN or an infinity
        return int(value)
    return None


def query(allowed: Mapping[str, str]) -> dict[str, Any]:
    """Query parameters, each at most once, each in ``allowed`` (name -> kind)."""
    if not request.query_string:
        return {}
    args = request.args
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown query parameters: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name in args:
        given = args.getlist(name)
        if len(given) != 1:
            raise BadRequest(f"query parameter {name} given more than once")
        if len(given[0]) > MAX_QUERY_VALUE:
            raise BadRequest(f"query parameter {name} is too long")
        values[name] = _convert(name, given[0], allowed[name])
    return values


def _convert(name: str, raw: str, kind: str) -> Any:
    if kind == "integer":
        if not re.fullmatch(r"-?[0-9]{1,12}", raw):
            raise BadRequest(f"{name} must be an integer")
        return int(raw)
    if kind == "datetime":
        return rfc3339(raw, name)
    return raw


def rfc3339(raw: str, name: str) -> datetime:
    if not RFC3339.fullmatch(raw):
        raise BadRequest(f"{name} must be an RFC 3339 timestamp, e.g. 2024-05-31T12:00:00Z")
    text = raw.upper().replace("Z", "+00:00").replace(" ", "T")
    # A leap second is a real RFC 3339 instant that Python cannot hold: read it as :59.999999.
    text = re.sub(r":60(\.[0-9]+)?(?=[+-])", ":59.999999", text)
    try:
        return datetime.fromisoformat(_trim_fraction(text))
    except ValueError:
        raise BadRequest(f"{name} is not a valid instant") from None


def _trim_fraction(text: str) -> str:
    # Python accepts at most microseconds; RFC 3339 allows any precision.
    return re.sub(r"\.(\d{6})\d+", r".\1", text)


def min_position() -> int | None:
    """The ``X-Min-Position`` header: the position the read models must hold first."""
    return parse_min_position(request.headers.get("X-Min-Position"), "X-Min-Position")


def wants(media_type: str) -> bool:
    """Did the client prefer ``media_type`` over JSON?"""
    return prefers(request.headers.get("Accept"), media_type)


def prefers(accept: str | None, media_type: str) -> bool:
    """Does an ``Accept`` header value prefer ``media_type`` over JSON?"""
    if accept is None:
        return False  # no preference: JSON
    best = parse_accept_header(accept, MIMEAccept).best_match(["application/json", media_type])
    return best == media_type
