"""The ``Spec`` aggregate: the lifecycle table and its three events.

The rules are those of docs/behaviour.md, Lifecycle and Events."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from specsvc.errors import InvalidStateTransition, VersionNotFound

State = Literal["draft", "published", "deprecated", "deleted"]
Command = Literal["update", "publish", "deprecate", "delete"]

# docs/behaviour.md, Lifecycle, as data: state -> command -> resulting state (None: forbidden).
LIFECYCLE: dict[str, dict[str, str | None]] = {
    "draft": {"update": "draft", "publish": "published", "deprecate": None, "delete": "deleted"},
    "published": {
        "update": "published",
        "publish": "published",
        "deprecate": "deprecated",
        "delete": None,
    },
    "deprecated": {
        "update": None,
        "publish": "published",
        "deprecate": "deprecated",
        "delete": "deleted",
    },
    "deleted": {"update": None, "publish": None, "deprecate": None, "delete": "deleted"},
}


@functools.lru_cache(maxsize=4096)  # a SHA-1 each: derived once per recently used name
def spec_id(name: str) -> UUID:
    """The aggregate id of a spec: a uuid5 of its name, so names are unique."""
    return uuid5(NAMESPACE_URL, f"/specs/{name}")


class Spec(Aggregate):
    """A versioned YAML spec. Commands check the lifecycle table; events only apply."""

    class Event(Aggregate.Event):
        actor: str
        correlation_id: str
        reason: str | None

    class SpecCreated(Event, Aggregate.Created):
        name: str
        type: str
        content: str

        # v1 (before reasons were accepted on create) had no ``reason`` field.
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            state.setdefault("reason", None)

    class SpecUpdated(Event):
        content: str
        version: int

        def apply(self, spec: Spec) -> None:
            spec.content = self.content
            spec.content_version = self.version
            spec.updated_by = self.actor

    class SpecStateChanged(Event):
        from_state: str
        to_state: str
        published_version: int | None

        def apply(self, spec: Spec) -> None:
            spec.state = self.to_state
            spec.published_version = self.published_version
            if self.to_state == "published":
                spec.published_at = self.timestamp
            spec.updated_by = self.actor

    @staticmethod
    def create_id(name: str) -> UUID:
        return spec_id(name)

    def __init__(
        self,
        name: str,
        type: str,
        content: str,
        actor: str,
        correlation_id: str,
        reason: str | None,
    ) -> None:
        self.name = name
        self.type = type
        self.content = content
        self.content_version = 1
        self.state: str = "draft"
        self.published_version: int | None = None
        self.published_at: datetime | None = None
        self.created_by = actor
        self.updated_by = actor

    # Commands: each returns True when it recorded an event, False for a no-op.

    def update(self, content: str, *, actor: str, correlation_id: str, reason: str) -> bool:
        self.check_allowed("update")
        if content == self.content:
            return False
        self.trigger_event(
            self.SpecUpdated,
            content=content,
            version=self.content_version + 1,
            actor=actor,
            correlation_id=correlation_id,
            reason=reason,
        )
        return True

    def publish_target(self, version: int | None) -> int:
        """The version a publish would serve, if the lifecycle allows publishing."""
        self.check_allowed("publish")
        target = self.content_version if version is None else version
        if not 1 <= target <= self.content_version:
            raise VersionNotFound(
                f"spec {self.name!r} has no version {target}",
                details={"name": self.name, "version": target},
            )
        return target

    def publish(self, version: int | None, *, actor: str, correlation_id: str, reason: str) -> bool:
        target = self.publish_target(version)
        if self.state == "published" and self.published_version == target:
            return False
        return self._change_state("published", target, actor, correlation_id, reason)

    def deprecate(self, *, actor: str, correlation_id: str, reason: str) -> bool:
        return self._change_state(
            self.check_allowed("deprecate"), self.published_version, actor, correlation_id, reason
        )

    def delete(self, *, actor: str, correlation_id: str, reason: str) -> bool:
        return self._change_state(
            self.check_allowed("delete"), self.published_version, actor, correlation_id, reason
        )

    def check_allowed(self, command: Command) -> str:
        """The state ``command`` leads to, or InvalidStateTransition if the table forbids it."""
        to_state = LIFECYCLE[self.state][command]
        if to_state is None:
            raise InvalidStateTransition(
                f"cannot {command} spec {self.name!r} in state {self.state!r}",
                details={"name": self.name, "state": self.state, "command": command},
            )
        return to_state

    def _change_state(
        self,
        to_state: str,
        published_version: int | None,
        actor: str,
        correlation_id: str,
        reason: str,
    ) -> bool:
        if to_state == self.state and published_version == self.published_version:
            return False
        self.trigger_event(
            self.SpecStateChanged,
            from_state=self.state,
            to_state=to_state,
            published_version=published_version,
            actor=actor,
            correlation_id=correlation_id,
            reason=reason,
        )
        return True

    @property
    def has_unpublished_changes(self) -> bool:
        return self.content_version != self.published_version
