"""Between the application's plain dicts and the protobuf messages."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any, Generic, TypeVar, cast

from google.protobuf import json_format, message_factory
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from specsvc.errors import BadRequest
from specsvc.service.memo import Renderings

M = TypeVar("M", bound=Message)


def to_message(data: dict[str, Any], message_class: type[M]) -> M:
    """A message from a dict shaped like the REST JSON (None means unset): the message
    ``json_format.ParseDict`` makes of it, built field by field from the message's
    descriptor (~13x faster for a Spec); data that plan does not cover (a Struct, a
    naive time, a value of another type than its field's) goes through ParseDict."""
    try:
        return _built(data, message_class)
    except (_Unplanned, TypeError, ValueError):
        return json_format.ParseDict(_jsonable(data), message_class(), ignore_unknown_fields=True)


class _Unplanned(Exception):
    """A value the field-by-field build leaves to ParseDict."""


_SCALAR, _TIMESTAMP, _MESSAGE, _WELL_KNOWN = range(4)
# Per message class: each field's name -> (kind, repeated, the class of its messages).
_Plan = dict[str, tuple[int, bool, Any]]
_plans: dict[type[Message], _Plan] = {}


def _plan(message_class: type[Message]) -> _Plan:
    plan = _plans.get(message_class)
    if plan is None:
        plan = {}
        for field in message_class.DESCRIPTOR.fields:
            kind, nested = _SCALAR, None
            if field.message_type is not None:
                nested = message_factory.GetMessageClass(cast(Any, field.message_type))
                full_name = field.message_type.full_name
                kind = (
                    _TIMESTAMP
                    if full_name == Timestamp.DESCRIPTOR.full_name
                    else _WELL_KNOWN
                    if full_name.startswith("google.protobuf.")
                    else _MESSAGE
                )
            plan[field.name] = (kind, field.is_repeated, nested)
        _plans[message_class] = plan
    return plan


def _built(data: dict[str, Any], message_class: type[M]) -> M:
    plan = _plans.get(message_class) or _plan(message_class)
    fields: dict[str, Any] = {}
    for name, value in data.items():
        field = plan.get(name)
        if value is None or field is None:  # unset; a key the message lacks is ignored
            continue
        kind, repeated, nested = field
        if kind == _SCALAR:
            fields[name] = value
        elif kind == _MESSAGE:
            fields[name] = (
                [_built(item, nested) for item in value] if repeated else _built(value, nested)
            )
        elif kind == _TIMESTAMP:
            fields[name] = [_stamp(item) for item in value] if repeated else _stamp(value)
        else:
            raise _Unplanned(name)
    return message_class(**fields)


def _stamp(value: Any) -> Timestamp:
    stamp = Timestamp()
    if isinstance(value, datetime) and value.tzinfo is not None:
        stamp.FromDatetime(value)
    elif isinstance(value, str):
        stamp.FromJsonString(value)
    else:  # a naive time: ParseDict's reading of it (local time) is kept
        raise _Unplanned(value)
    return stamp


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
