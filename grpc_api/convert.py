"""Between the application's plain dicts and the protobuf messages."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any, Generic, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from specsvc.errors import BadRequest
from specsvc.service.memo import Renderings

M = TypeVar("M", bound=Message)


def to_message(data: dict[str, Any], message_class: type[M]) -> M:
    """A message from a dict shaped like the REST JSON (None means unset)."""
    return json_format.ParseDict(_jsonable(data), message_class(), ignore_unknown_fields=True)


# Answers whose message is kept; the oldest kept is dropped first.
MESSAGES_KEPT = 1024


class MessageMemo(Generic[M]):
    """The message built from the last answer of each key (a spec name), given again for
    an equal answer (``Renderings``): while a spec stands still, a read converts nothing."""

    def __init__(self, message_class: type[M], size: int = MESSAGES_KEPT) -> None:
        self._message_class = message_class
        self._messages: Renderings[M] = Renderings(size)

    def message(self, key: str, data: dict[str, Any]) -> M:
        render = partial(to_message, message_class=self._message_class)
        return self._messages.rendered(key, data, render)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def optional(message: Message, field: str, default: Any = None) -> Any:
    """The value of an optional field, or ``default`` when the client left it unset."""
    return getattr(message, field) if message.HasField(field) else default


def instant(message: Message, field: str) -> datetime | None:
    if not message.HasField(field):
        return None
    stamp: Timestamp = getattr(message, field)
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise BadRequest(f"{field} is not a representable instant") from None


def text(message: Message, field: str) -> str | None:
    """A string field; empty means unset, as proto3 cannot tell them apart."""
    value = getattr(message, field)
    return value or None


def struct_to_dict(struct: Struct) -> dict[str, Any]:
    """A Struct as plain data; integral numbers become ints (Struct holds only doubles)."""
    try:
        return _integral(json_format.MessageToDict(struct))
    except (ValueError, RecursionError):  # NaN and infinities are not JSON
        raise BadRequest("input holds a value that is not JSON (NaN or infinity)") from None


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value
