"""Checks on command and query arguments, before anything touches the store."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any

from specsvc.auth import principal_problem
from specsvc.content import is_text
from specsvc.errors import BadRequest, SpecNotFound, ValidationError
from specsvc.observability.ids import new_correlation_id
from specsvc.spectypes import SpecTypeRegistry

NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?$")
CORRELATION_PATTERN = re.compile(r"^[\x21-\x7e]{1,128}$")
STATES = ("draft", "published", "deprecated", "deleted")
MAX_REASON = 1000
MAX_LIMIT = 500
# A token this service issues: a name (128) and three filters (128 each), as base64 JSON.
MAX_PAGE_TOKEN = 1024


def new_name(name: Any) -> str:
    """A name for a new spec: anything off the name pattern is a ValidationError."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValidationError(
            "name must be 1-128 characters of a-z, 0-9, '.', '_' or '-',"
            " starting and ending with a letter or digit",
            errors=[{"path": "/name", "message": "does not match the spec name pattern"}],
        )
    return name


def known_type(type_name: Any, types: SpecTypeRegistry) -> str:
    """The name of a registered spec type; anything else is a ValidationError."""
    one_of = f"one of {', '.join(types.names())}"
    # Messages quote a text the caller sent, never a Python repr of some other value.
    if not isinstance(type_name, str):
        raise ValidationError(
            "type must be a string naming a spec type",
            errors=[{"path": "/type", "message": f"must be a string, {one_of}"}],
        )
    if type_name not in types:
        raise ValidationError(
            f"unknown spec type {type_name[:64]!r}",
            errors=[{"path": "/type", "message": one_of}],
        )
    return type_name


def existing_name(name: Any) -> str:
    """A name to look up: one that could never have been created is simply not found."""
    if not isinstance(name, str):
        raise SpecNotFound("no such spec: a spec name is a string")
    if not NAME_PATTERN.fullmatch(name):
        raise SpecNotFound(f"spec {name[:140]!r} not found", details={"name": name[:140]})
    return name


def reason(value: Any, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if isinstance(value, str) and not is_text(value):
        raise ValidationError(
            "reason is not valid Unicode text",
            errors=[{"path": "/reason", "message": "contains a lone surrogate"}],
        )
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            "a reason is required", errors=[{"path": "/reason", "message": "must not be blank"}]
        )
    text = value.strip()
    if len(text) > MAX_REASON:
        raise ValidationError(
            f"reason is longer than {MAX_REASON} characters",
            errors=[{"path": "/reason", "message": f"at most {MAX_REASON} characters"}],
        )
    return text


def actor(value: Any) -> str:
    """The actor to record: a principal name as authentication would accept it."""
    problem = principal_problem(value)  # lone surrogates are category Cs: refused too
    if problem is not None:
        raise ValidationError(
            f"the actor (the authenticated principal) {problem}",
            errors=[{"path": "/actor", "message": problem}],
        )
    return value


def correlation_id(value: Any) -> str:
    if value is None:
        return new_correlation_id()
    if not isinstance(value, str) or not CORRELATION_PATTERN.fullmatch(value):
        raise ValidationError(
            "correlation id must be 1-128 visible ASCII characters",
            errors=[{"path": "/correlation_id", "message": "1-128 visible ASCII characters"}],
        )
    return value


def positive_int(value: Any, field: str, *, error: type[Exception] = BadRequest) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise error(f"{field} must be a positive integer")
    return value


def limit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return value


def state(value: Any) -> str | None:
    if value is not None and value not in STATES:
        raise BadRequest(f"state must be one of {', '.join(STATES)}")
    return value


def optional_text(value: Any, field: str, max_length: int = 256) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > max_length):
        raise BadRequest(f"{field} must be a string of at most {max_length} characters")
    return value


def instant(value: Any, field: str) -> datetime | None:
    """A timezone-aware instant; naive datetimes are taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise BadRequest(f"{field} must be a datetime")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def encode_page_token(after_name: str, filters: list[Any]) -> str:
    raw = json.dumps({"after": after_name, "filters": filters}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(token: Any, filters: list[Any]) -> str | None:
    """The name to continue after. Anything but a token this service issued for these
    filters (mangled, too long, nested however deep) is a BadRequest."""
    if token is None:
        return None
    if not isinstance(token, str) or len(token) > MAX_PAGE_TOKEN:
        raise BadRequest("page_token is not valid")
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after, token_filters = data["after"], data["filters"]
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error, RecursionError):
        raise BadRequest("page_token is not valid") from None
    if not isinstance(after, str) or token_filters != filters:
        raise BadRequest("page_token is not valid for these filters")
    return after
