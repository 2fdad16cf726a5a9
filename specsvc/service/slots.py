"""``Slots``: at most N of something at once; past that, Unavailable at once, not a queue.

Evaluating a regex-rules spec is the one query whose cost a caller chooses (the rule
and the input); a few at a time leave the process's cores to everything else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from specsvc.errors import Unavailable

RETRY_AFTER_SECONDS = 1


class Slots:
    def __init__(self, size: int, what: str):
        self.size = size
        self.what = what
        self._free = threading.BoundedSemaphore(size)

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._free.acquire(blocking=False):
            raise Unavailable(
                f"{self.size} {self.what} are already running; retry shortly",
                details={"retry_after": RETRY_AFTER_SECONDS},
            )
        try:
            yield
        finally:
            self._free.release()
