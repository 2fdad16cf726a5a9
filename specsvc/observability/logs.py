"""Logging: one JSON object per line for machines, a readable line on a terminal."""

from __future__ import annotations

import atexit
import functools
import json
import logging
import logging.handlers
import queue
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from specsvc.errors import SpecServiceError

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
    """One readable line per record; whatever a client chose (a spec name, a method, a
    principal) is escaped, so no value can start a line of its own or hide text."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(
            f"{f}={escape(str(getattr(record, f)))}" for f in FIELDS if hasattr(record, f)
        )
        text = super().format(record)
        return f"{text} {fields}" if fields else text


def escape(text: str) -> str:
    """Control, format and line-separator characters as ``\\xNN`` / ``\\uNNNN``."""
    if text.isprintable():
        return text
    return "".join(
        character if character.isprintable() else character.encode("unicode_escape").decode()
        for character in text
    )


commands_log = logging.getLogger("specsvc.commands")
Method = TypeVar("Method", bound=Callable[..., dict[str, Any]])


def logged_command(command: str) -> Callable[[Method], Method]:
    """One structured log line per command: who, what, which spec, outcome, how long."""

    def decorate(method: Method) -> Method:
        @functools.wraps(method)
        def logged(self: Any, name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
            started, outcome, position = time.perf_counter(), "ok", None
            try:
                result = method(self, name, *args, **kwargs)
                position = result["position"]
                return result
            except SpecServiceError as error:
                outcome = error.code
                raise
            finally:
                commands_log.info(
                    "command",
                    extra={
                        "command": command,
                        "spec": str(name)[:140],
                        "actor": kwargs.get("actor"),
                        "correlation_id": kwargs.get("correlation_id"),
                        "outcome": outcome,
                        "position": position,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    },
                )

        return cast(Method, logged)

    return decorate


class _Enqueue(logging.handlers.QueueHandler):
    # The library's prepare() formats the message on the caller's thread; hand the
    # record over as it is, so formatting and writing both happen off the request path.
    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


_listener: logging.handlers.QueueListener | None = None


def configure(level: str = "INFO", fmt: str = "auto") -> None:
    """Log to stderr: ``json``, ``text``, or ``auto`` (text on a terminal, else JSON).

    Records are queued and formatted and written by a thread of their own, so a request
    never waits on stderr (a slow pipe, a full terminal); the queue is drained at exit."""
    global _listener
    if fmt == "auto":
        fmt = "text" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    if _listener is not None:
        _listener.stop()
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = logging.handlers.QueueListener(records, handler)
    _listener.start()
    root = logging.getLogger()
    root.handlers[:] = [_Enqueue(records)]
    root.setLevel(level.upper())
    # waitress logs each queue warning at WARNING; keep its chatter out of INFO streams.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


@atexit.register
def _drain() -> None:
    if _listener is not None:
        _listener.stop()  # writes out every record still queued
