"""Answers kept in memory while the store stands still (docs/architecture.md, Reads)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from uuid import UUID

# Specs whose answer is kept; the least recently read is dropped first.
MEMO_SIZE = 1024


class PositionMemo:
    """An answer for each recently read spec, with the position it was read at (the log's
    head, or the read models' projected position): it answers again only while that
    position is unchanged, so any later write (of any spec) retires every answer kept
    before it. Callers get copies; what is kept cannot be changed through them."""

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[UUID, tuple[int, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: UUID, position: int) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != position:
                return None
            self._entries.move_to_end(key)
            return dict(entry[1])

    def put(self, key: UUID, position: int, answer: dict[str, Any]) -> None:
        """Keep ``answer``, read from rows at least as new as ``position`` (the position
        must be read before the rows)."""
        with self._lock:
            self._entries[key] = (position, dict(answer))
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
