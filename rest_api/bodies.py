"""The JSON body of every REST endpoint that takes one, declared once: field, type, presence.

``requests.json_body`` reads the current request's body by its endpoint from ``BODIES``,
so every view reads its fields the same way; the OpenAPI request schemas say the same
(a test holds the two together).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Presence(Enum):
    # Missing, null or of the wrong JSON type: BadRequest naming the field.
    REQUIRED = "required"
    # May be absent or null (null means absent); of the wrong JSON type: BadRequest.
    OPTIONAL = "optional"
    # Required, but a missing or null reason is the application's ValidationError on every
    # surface (docs/behaviour.md, Reasons); only a reason of the wrong JSON type is BadRequest.
    REASON = "reason"


@dataclass(frozen=True)
class Field:
    kind: str  # the JSON type: "string", "integer" or "object"
    presence: Presence


def required(kind: str) -> Field:
    return Field(kind, Presence.REQUIRED)


def optional(kind: str) -> Field:
    return Field(kind, Presence.OPTIONAL)


REASON = Field("string", Presence.REASON)
Body = dict[str, Field]

BODIES: dict[str, Body] = {
    "specs.create": {
        "name": required("string"),
        "type": required("string"),
        "content": required("string"),
        "reason": optional("string"),
    },
    "specs.update": {
        "content": required("string"),
        "reason": REASON,
        "expected_version": optional("integer"),
    },
    "specs.publish": {"reason": REASON, "version": optional("integer")},
    "specs.deprecate": {"reason": REASON},
    "specs.delete": {"reason": REASON},
    "specs.evaluate": {"input": required("object"), "version": optional("integer")},
    "catalog.validate": {"type": required("string"), "content": required("string")},
}
