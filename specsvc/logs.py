"""Logging: one JSON object per line for machines, a readable line on a terminal."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# Structured fields a log call may pass in ``extra``; they become JSON keys.
FIELDS = (
    "correlation_id",
    "actor",
    "api",
    "route",
    "rpc",
    "method",
    "status",
    "duration_ms",
    "command",
    "spec",
    "outcome",
    "position",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({f: getattr(record, f) for f in FIELDS if hasattr(record, f)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{f}={getattr(record, f)}" for f in FIELDS if hasattr(record, f))
        text = super().format(record)
        return f"{text} {fields}" if fields else text


def configure(level: str = "INFO", fmt: str = "auto") -> None:
    """Log to stderr: ``json``, ``text``, or ``auto`` (text on a terminal, else JSON)."""
    if fmt == "auto":
        fmt = "text" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # waitress logs each queue warning at WARNING; keep its chatter out of INFO streams.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
