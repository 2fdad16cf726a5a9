"""The position of the last write this user made to each server, kept between commands.

A read sent after a write asks for that position (``X-Min-Position``), so it sees the
write whichever instance behind a load balancer answers it (docs/behaviour.md,
Consistency). Kept in ``$SPECSVC_STATE_DIR/positions.json`` (default
``$XDG_STATE_HOME/specsvc``, else ``~/.local/state/specsvc``). The memory is a
convenience: a file that cannot be read or written never fails a command.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

FILE_NAME = "positions.json"
MAX_SERVERS = 100  # the most recently written-to servers are kept


def state_dir() -> Path:
    explicit = os.environ.get("SPECSVC_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "specsvc"


class PositionMemory:
    """Positions by server URL; the highest one written is kept."""

    def __init__(self, path: Path | None = None):
        self.path = path if path is not None else state_dir() / FILE_NAME

    def recall(self, url: str) -> int | None:
        position = self._load().get(url)
        return position if isinstance(position, int) and position > 0 else None

    def remember(self, url: str, position: int) -> None:
        known = self._load()
        if known.get(url, 0) >= position:
            return
        known.pop(url, None)
        known[url] = position  # the most recent last, so the oldest go first
        self._save(dict(list(known.items())[-MAX_SERVERS:]))

    def forget(self, url: str) -> None:
        known = self._load()
        if known.pop(url, None) is not None:
            self._save(known)

    def _load(self) -> dict[str, int]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, known: dict[str, int]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed: a reader never sees half a file.
            with tempfile.NamedTemporaryFile(
                "w", dir=self.path.parent, prefix=".positions-", delete=False, encoding="utf-8"
            ) as handle:
                json.dump(known, handle)
            os.replace(handle.name, self.path)
        except OSError:
            return
