"""Published answers kept in memory while the read models stand still
(docs/architecture.md, Reads)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from uuid import UUID

# Specs whose published answer is kept; the least recently read is dropped first.
PUBLISHED_MEMO_SIZE = 1024


class PublishedMemo:
    """The published answer of each recently read spec, with the projected position it
    was read at: it answers again only while the read models are still at that position,
    so a later projection (of any spec) retires every answer kept before it."""

    def __init__(self, size: int = PUBLISHED_MEMO_SIZE) -> None:
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
