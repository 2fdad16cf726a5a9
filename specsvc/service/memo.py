"""Answers kept in memory while the store stands still (docs/architecture.md, Reads)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar
from uuid import UUID

R = TypeVar("R")

# Specs whose answer is kept; the least recently read is dropped first.
MEMO_SIZE = 1024


class PositionMemo:
    """An answer for each recently read spec, with the position it was read at (the log's
    head, or the read models' projected position): it answers again while that position
    is unchanged. Once the position moved (a write of any spec), an answer is given again
    only if the spec's own newest event is at or before the position it was read at (one
    indexed read), and is then kept at the new position. Callers get copies; what is kept
    cannot be changed through them."""

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[UUID, tuple[int, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, key: UUID, position: int, last_position: Callable[[UUID], int | None]
    ) -> dict[str, Any] | None:
        """The answer kept for ``key`` if still current at ``position`` (read before this
        call); ``last_position`` gives the position of the spec's newest event."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            if entry[0] == position:
                return dict(entry[1])
        newest = last_position(key)
        if newest is None or newest > entry[0] or entry[0] > position:
            return None
        with self._lock:
            if self._entries.get(key) is entry:  # not replaced meanwhile
                self._entries[key] = (position, entry[1])
        return dict(entry[1])

    def put(self, key: UUID, position: int, answer: dict[str, Any]) -> None:
        """Keep ``answer``, read from rows at least as new as ``position`` (the position
        must be read before the rows)."""
        with self._lock:
            self._entries[key] = (position, dict(answer))
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class Renderings(Generic[R]):
    """What an answer was rendered as for an API (a response body, a protobuf message),
    kept per key with a copy of the answer and given again only for an equal answer: one
    that changed in any field (a new version published, a deprecation) is rendered
    again. Bounded; the key kept longest goes first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: dict[Hashable, tuple[dict[str, Any], R]] = {}
        self._lock = threading.Lock()

    def rendered(
        self, key: Hashable, answer: dict[str, Any], render: Callable[[dict[str, Any]], R]
    ) -> R:
        entry = self._entries.get(key)
        if entry is not None and entry[0] == answer:
            return entry[1]
        result = render(answer)
        with self._lock:
            self._entries.pop(key, None)
            while len(self._entries) >= self._size:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (dict(answer), result)
        return result
