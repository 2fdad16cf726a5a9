"""An independent model of a spec's life (docs/behaviour.md, Lifecycle, Errors and
Authentication and roles), written from the document rather than from the code.

Each command answers what the service must answer: ``Expected(code=None, changed=...)``
when it is accepted (and the model has moved on), or the error code when it is refused
(and the model is unchanged). The state machines in this folder drive the service
through one API or another and compare every answer and every read with it.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# docs/behaviour.md, Lifecycle, as the model reads it: the cells of the table that say
# "refused" (InvalidStateTransition), and the state each other command leads to.
REFUSED: dict[str, frozenset[str]] = {
    "draft": frozenset({"deprecate"}),
    "published": frozenset({"delete"}),
    "deprecated": frozenset({"update"}),
    "deleted": frozenset({"update", "publish", "deprecate"}),
}
LEADS_TO = {"publish": "published", "deprecate": "deprecated", "delete": "deleted"}


def next_state(state: str, command: str) -> str | None:
    """Where ``command`` takes a spec in ``state`` (an update keeps it), None if refused."""
    return None if command in REFUSED[state] else LEADS_TO.get(command, state)


# docs/behaviour.md, Authentication and roles: what each role may do.
MAY: dict[str, frozenset[str]] = {
    "reader": frozenset({"read"}),
    "author": frozenset({"read", "create", "update"}),
    "publisher": frozenset({"read", "publish", "deprecate"}),
    "admin": frozenset({"read", "create", "update", "publish", "deprecate", "delete"}),
}

# docs/behaviour.md, Errors: the HTTP status of each code.
HTTP_STATUS: dict[str, int] = {
    "BadRequest": 400,
    "PermissionDenied": 403,
    "SeparationOfDuties": 403,
    "SpecNotFound": 404,
    "SpecNotPublished": 404,
    "VersionNotFound": 404,
    "SpecAlreadyExists": 409,
    "InvalidStateTransition": 409,
    "VersionMismatch": 409,
    "SpecDeleted": 410,
    "ValidationError": 422,
    "IdempotencyKeyReused": 422,
}

# Contents the machines write: valid mappings (two with the same data in other words,
# which are still other versions: content is the text as sent), and two refused ones.
VALID_CONTENTS = ("a: 1\n", "a: 2\n", "b: [1, 2]\n", "a: 1  # the same data, other text\n")
INVALID_CONTENTS = ("a: [1\n", "- a list, not a mapping\n")
# Reasons: one with spaces around it (stored trimmed), one blank (refused).
REASONS = ("because", "  rollback for a reason  ", "   ")


def same_person(first: str, second: str) -> bool:
    """Four eyes compares names after NFKC normalisation and case folding."""
    return canon(first) == canon(second)


def canon(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Expected:
    """What a command must answer: an error code, or acceptance and whether it changed."""

    code: str | None = None
    changed: bool = False


@dataclass(frozen=True)
class Version:
    content: str
    author: str
    reason: str | None


@dataclass(frozen=True)
class Event:
    event: str
    actor: str
    reason: str | None
    version: int
    from_state: str | None = None
    to_state: str | None = None
    published_version: int | None = None


@dataclass
class ModelSpec:
    name: str
    created_by: str
    versions: list[Version]
    state: str = "draft"
    published_version: int | None = None
    events: list[Event] = field(default_factory=list)

    @property
    def latest(self) -> int:
        return len(self.versions)

    @property
    def content(self) -> str:
        return self.versions[-1].content

    @property
    def updated_by(self) -> str:
        return self.events[-1].actor

    def resource(self) -> dict[str, Any]:
        """The fields of the spec resource the model knows (ids and times it does not)."""
        return {
            "name": self.name,
            "type": "generic",
            "state": self.state,
            "version": self.latest,
            "published_version": self.published_version,
            "content": self.content,
            "content_sha256": sha256(self.content),
            "has_unpublished_changes": self.latest != self.published_version,
            "created_by": self.created_by,
            "updated_by": self.updated_by,
            "revision": len(self.events),
        }

    def summary(self) -> dict[str, Any]:
        resource = self.resource()
        del resource["content"]
        return resource

    def change_state(
        self, to_state: str, published: int | None, actor: str, reason: str | None
    ) -> None:
        event = Event(
            "SpecStateChanged", actor, reason, self.latest, self.state, to_state, published
        )
        self.events.append(event)
        self.state, self.published_version = to_state, published


def trimmed(reason: str | None) -> str | None:
    return None if reason is None else reason.strip()


class LifecycleModel:
    """Every spec the machine made, by name; ``roles`` None: anyone may do anything (the
    Python API), else each principal's roles (an API with authentication)."""

    def __init__(self, *, four_eyes: bool, roles: dict[str, tuple[str, ...]] | None = None):
        self.four_eyes = four_eyes
        self.roles = roles
        self.specs: dict[str, ModelSpec] = {}

    def _denied(self, actor: str, action: str) -> bool:
        if self.roles is None:
            return False
        return not any(action in MAY[role] for role in self.roles[actor])

    @staticmethod
    def _bad_reason(reason: str | None, *, required: bool) -> bool:
        if reason is None:
            return required
        return not reason.strip()

    # Commands: the caller's roles and the arguments are checked first, then that the
    # spec exists, then (for an update) expected_version, the lifecycle table, and the
    # content last (docs/behaviour.md, Lifecycle: "Updates check, in this order").

    def create(self, name: str, content: str, actor: str, reason: str | None) -> Expected:
        if self._denied(actor, "create"):
            return Expected("PermissionDenied")
        if content not in VALID_CONTENTS or self._bad_reason(reason, required=False):
            return Expected("ValidationError")
        if name in self.specs:  # a deleted spec keeps its name
            return Expected("SpecAlreadyExists")
        spec = ModelSpec(name, actor, [Version(content, actor, trimmed(reason))])
        spec.events.append(Event("SpecCreated", actor, trimmed(reason), 1))
        self.specs[name] = spec
        return Expected(changed=True)

    def _admitted(
        self, command: str, name: str, actor: str, reason: str | None, number: int | None = None
    ) -> tuple[str | None, ModelSpec | None]:
        """The checks every command on a spec makes first: the caller's roles, its
        arguments (``number``: a version it names), then whether the spec exists."""
        if self._denied(actor, command):
            return "PermissionDenied", None
        if number is not None and number < 1:
            return "BadRequest", None
        if self._bad_reason(reason, required=True):
            return "ValidationError", None
        spec = self.specs.get(name)
        return ("SpecNotFound", None) if spec is None else (None, spec)

    def update(
        self,
        name: str,
        content: str,
        actor: str,
        reason: str | None,
        expected_version: int | None,
    ) -> Expected:
        code, spec = self._admitted("update", name, actor, reason, expected_version)
        if spec is None:
            return Expected(code)
        if expected_version is not None and expected_version != spec.latest:
            return Expected("VersionMismatch")
        if next_state(spec.state, "update") is None:
            return Expected("InvalidStateTransition")
        if content not in VALID_CONTENTS:
            return Expected("ValidationError")
        if content == spec.content:
            return Expected(changed=False)
        spec.versions.append(Version(content, actor, trimmed(reason)))
        spec.events.append(Event("SpecUpdated", actor, trimmed(reason), spec.latest))
        return Expected(changed=True)

    def publish(self, name: str, actor: str, reason: str | None, version: int | None) -> Expected:
        code, spec = self._admitted("publish", name, actor, reason, version)
        if spec is None:
            return Expected(code)
        if next_state(spec.state, "publish") is None:
            return Expected("InvalidStateTransition")
        target = spec.latest if version is None else version
        if target > spec.latest:
            return Expected("VersionNotFound")
        if self.four_eyes and same_person(spec.versions[target - 1].author, actor):
            return Expected("SeparationOfDuties")
        if spec.state == "published" and spec.published_version == target:
            return Expected(changed=False)
        spec.change_state("published", target, actor, trimmed(reason))
        return Expected(changed=True)

    def deprecate(self, name: str, actor: str, reason: str | None) -> Expected:
        return self._state_command("deprecate", name, actor, reason)

    def delete(self, name: str, actor: str, reason: str | None) -> Expected:
        return self._state_command("delete", name, actor, reason)

    def _state_command(self, command: str, name: str, actor: str, reason: str | None) -> Expected:
        code, spec = self._admitted(command, name, actor, reason)
        if spec is None:
            return Expected(code)
        to_state = next_state(spec.state, command)
        if to_state is None:
            return Expected("InvalidStateTransition")
        if to_state == spec.state:
            return Expected(changed=False)
        spec.change_state(to_state, spec.published_version, actor, trimmed(reason))
        return Expected(changed=True)

    # Reads: the error code, or the body each read must answer.

    def _read(self, name: str, answer: Callable[[ModelSpec], Any]) -> tuple[str | None, Any]:
        """``answer(spec)``, or SpecNotFound: reads look the spec up before the rest."""
        spec = self.specs.get(name)
        return ("SpecNotFound", None) if spec is None else answer(spec)

    def get_spec(self, name: str) -> tuple[str | None, Any]:
        return self._read(name, lambda spec: (None, spec.resource()))

    def get_published(self, name: str) -> tuple[str | None, Any]:
        return self._read(name, _published)

    def list_versions(self, name: str) -> tuple[str | None, Any]:
        return self._read(
            name, lambda spec: (None, [_version(spec, k) for k in range(1, spec.latest + 1)])
        )

    def get_version(self, name: str, number: int) -> tuple[str | None, Any]:
        def answer(spec: ModelSpec) -> tuple[str | None, Any]:
            if number < 1:
                return "BadRequest", None
            if number > spec.latest:
                return "VersionNotFound", None
            content = spec.versions[number - 1].content
            return None, {"name": name, **_version(spec, number), "content": content}

        return self._read(name, answer)

    def history(self, name: str) -> tuple[str | None, Any]:
        return self._read(
            name,
            lambda spec: (
                None,
                [
                    {"spec": name, "sequence": sequence, **vars(event)}
                    for sequence, event in enumerate(spec.events, start=1)
                ],
            ),
        )

    def list_specs(self, state: str | None, prefix: str | None) -> list[dict[str, Any]]:
        """Summaries ordered by name; deleted specs only when asked for by state."""
        return [
            spec.summary()
            for name, spec in sorted(self.specs.items())
            if (spec.state == state if state is not None else spec.state != "deleted")
            and name.startswith(prefix or "")
        ]


def _published(spec: ModelSpec) -> tuple[str | None, Any]:
    if spec.state == "deleted":
        return "SpecDeleted", None
    if spec.published_version is None:
        return "SpecNotPublished", None
    served = spec.versions[spec.published_version - 1]
    return None, {
        "name": spec.name,
        "type": "generic",
        "version": spec.published_version,
        "content": served.content,
        "state": spec.state,
    }


def _version(spec: ModelSpec, number: int) -> dict[str, Any]:
    """A version as ``list_versions`` lists it."""
    version = spec.versions[number - 1]
    return {
        "version": number,
        "created_by": version.author,
        "reason": version.reason,
        "content_sha256": sha256(version.content),
        "size": len(version.content.encode("utf-8")),
    }
