"""The query cache of the scaled deployment (docs/architecture.md, Query cache).

Entries hold what a read of one spec answers (its current state, or the row of its
published content), each tagged with the log position it is at least as new as. The
projection worker writes them after each commit; API instances read through them and
use an entry only when its position is at least the one the read needs
(docs/behaviour.md, Query cache). ``NoCache`` is the default: every read goes to the
store.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple, TypedDict
from uuid import UUID

# What an entry holds: the spec resource (``get_spec``) or the published row
# (``get_published``).
SPEC = "spec"
PUBLISHED = "published"
KINDS = (SPEC, PUBLISHED)


class CacheStatus(TypedDict):
    state: str  # "off", "ok" or "degraded"
    error: str | None


class Lookup(NamedTuple):
    """What the cache holds for a key: ``value`` None when there is no usable entry.

    ``generation`` goes back with a read-through ``put``, so a value read from the store
    before the entries were abandoned is not written into the new generation."""

    generation: str
    position: int
    value: Any

    def serves(self, needed: int) -> bool:
        """True when the entry can answer a read that must see position ``needed``."""
        return self.value is not None and self.position >= needed


class QueryCache(ABC):
    """Entries per spec, each tagged with a position; an older never replaces a newer."""

    enabled = False

    @abstractmethod
    def get(self, kind: str, spec_id: UUID) -> Lookup | None:
        """The entry of ``kind`` for ``spec_id``; None when the cache cannot answer."""

    @abstractmethod
    def put(
        self, kind: str, spec_id: UUID, position: int, value: Any, lookup: Lookup | None
    ) -> None:
        """Read-through: store ``value``, read when the read models were at least at
        ``position``, unless a newer entry is there or the generation has moved on."""

    @abstractmethod
    def update(self, position: int, values: Mapping[tuple[str, UUID], Any]) -> None:
        """After the projection commit of ``position``: set each (kind, spec id) to its
        value (None invalidates). A failed update abandons every entry."""

    @abstractmethod
    def renew(self) -> None:
        """Abandon every entry (a worker starts projecting, perhaps after another died)."""

    def maintain(self) -> None:  # noqa: B027 - most caches have nothing to maintain
        """Called by the worker every second or so: after a failure, abandon the entries
        as soon as Redis answers again (they may have missed updates)."""

    @abstractmethod
    def status(self) -> CacheStatus:
        """off, ok or degraded (answers come from the store), with the last error."""

    def close(self) -> None:  # noqa: B027 - most caches hold nothing
        """Let go of connections."""


class NoCache(QueryCache):
    """No cache: every read goes to the store."""

    def get(self, kind: str, spec_id: UUID) -> Lookup | None:
        return None

    def put(
        self, kind: str, spec_id: UUID, position: int, value: Any, lookup: Lookup | None
    ) -> None:
        return None

    def update(self, position: int, values: Mapping[tuple[str, UUID], Any]) -> None:
        return None

    def renew(self) -> None:
        return None

    def status(self) -> CacheStatus:
        return {"state": "off", "error": None}


# --- values as text: JSON, with instants kept as instants ------------------------------------

INSTANT = "$instant"


def encode(value: Any) -> str:
    return json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False)


def decode(text: str) -> Any:
    return json.loads(text, object_hook=_object)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {INSTANT: value.isoformat()}
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _object(mapping: dict[str, Any]) -> Any:
    if len(mapping) == 1 and INSTANT in mapping:
        return datetime.fromisoformat(mapping[INSTANT])
    return mapping
