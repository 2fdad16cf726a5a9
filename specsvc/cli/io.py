"""Local input and output of the commands: files or stdin, JSON, a progress bar."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from specsvc.errors import SpecServiceError, ValidationError


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def read_local(path: str | None) -> bytes:
    """A local file's bytes, or standard input's when ``path`` is ``-`` or omitted."""
    if path in (None, "-"):
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None


def open_input(path: str) -> BinaryIO:
    """A local file opened for reading bytes, or standard input's bytes for ``-``."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None


def utf8_text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValidationError(f"{what} is not UTF-8 text: {error.reason}") from None


class UsageError(SpecServiceError):
    code = "UsageError"


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    WIDTH = 30
    EVERY = 0.1  # seconds between redraws: a terminal is slower than a tight loop

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.phase: str | None = None
        self.drawn_at = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if phase != self.phase:
            self.finish()
            self.phase = phase
        elif done < total and time.monotonic() - self.drawn_at < self.EVERY:
            return
        self.drawn_at = time.monotonic()
        filled = self.WIDTH * done // total if total else self.WIDTH
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r{phase:<12} [{bar}] {done}/{total}")
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.finish()

    def finish(self) -> None:
        """End the bar's line, so later output starts on a fresh one."""
        if self.phase is not None:
            self.stream.write("\n")
            self.stream.flush()
            self.phase = None
