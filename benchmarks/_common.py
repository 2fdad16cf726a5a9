"""Helpers shared by the benchmarks: arguments, timing, statistics, tables, baselines."""

from __future__ import annotations

import argparse
import math
import os
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from tempfile import TemporaryDirectory
from typing import Any

from specsvc import SpecService
from specsvc.config import Settings
from specsvc.persistence.sqlite.files import projections_path

ACTOR = "bench"
NS_PER_US = 1_000


def parse_args(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="a small, fast variant (a smoke test, not a figure)"
    )
    return parser.parse_args(argv)


@contextmanager
def temp_dir() -> Iterator[str]:
    with TemporaryDirectory(prefix="specsvc-bench-") as path:
        yield path


def remove_store(db: str) -> None:
    """Delete a SQLite store's files: the event store, its read models, their WAL files."""
    for path in (db, projections_path(db)):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)


def open_service(db: str | None) -> SpecService:
    """A service on a SQLite file (``db`` a path) or in memory (``db`` None)."""
    return SpecService.open(settings=Settings(db=db))


def timed(call: Callable[[], Any]) -> int:
    """Nanoseconds one call took."""
    start = time.perf_counter_ns()
    call()
    return time.perf_counter_ns() - start


def repeat(call: Callable[[], Any], times: int) -> list[int]:
    return [timed(call) for _ in range(times)]


def percentile(samples: Sequence[int], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted samples."""
    ordered = sorted(samples)
    rank = min(len(ordered), max(1, math.ceil(q / 100 * len(ordered))))
    return float(ordered[rank - 1])


class Stats:
    """Latency figures of a list of nanosecond samples, reported in microseconds."""

    def __init__(self, samples: Sequence[int]):
        if not samples:
            raise ValueError("no samples")
        self.n = len(samples)
        self.total_s = sum(samples) / 1e9
        self.mean_us = statistics.fmean(samples) / NS_PER_US
        self.p50_us = percentile(samples, 50) / NS_PER_US
        self.p99_us = percentile(samples, 99) / NS_PER_US

    @property
    def ops_per_s(self) -> float:
        return self.n / self.total_s if self.total_s else float("inf")


def print_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], *, left: int = 1
) -> None:
    """A plain-text table: the first ``left`` columns left-aligned, the rest right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.ljust(w) if i < left else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    print(f"\n{title}")
    print(line(headers))
    print(line(["-" * w for w in widths]))
    for row in cells:
        print(line(row))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def durable_commit_samples(directory: str, count: int, row_bytes: int = 100) -> list[int]:
    """The cost floor of a durable write: one ~100-byte INSERT + COMMIT per sample,
    into a WAL database with ``synchronous=FULL`` (what the service's stores use)."""
    connection = sqlite3.connect(
        os.path.join(directory, "baseline.db"), isolation_level=None, check_same_thread=False
    )
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        payload = os.urandom(row_bytes)

        def write() -> None:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO rows (body) VALUES (?)", (payload,))
            connection.execute("COMMIT")

        for _ in range(min(20, count)):  # warm up: file creation, first WAL frames
            write()
        return repeat(write, count)
    finally:
        connection.close()


def yaml_content(serial: int, size: int = 100) -> str:
    """A valid ``generic`` spec of about ``size`` UTF-8 bytes, distinct for each serial."""
    head = f"serial: {serial}\nrules:\n"
    lines = []
    length = len(head)
    index = 0
    while length < size - 24:
        entry = f"  - {{field: f{index}, matches: '^[a-z]{{{index % 9 + 1}}}$'}}\n"
        lines.append(entry)
        length += len(entry)
        index += 1
    text = head + "".join(lines)
    return text + "note: " + "x" * max(0, size - len(text) - 7) + "\n"


def prose_content(serial: int, size: int = 1500) -> str:
    """A valid ``generic`` spec of about ``size`` bytes that is mostly a literal block of
    prose: few YAML tokens, so parsing is cheap and storage costs weigh more in a write."""
    head = f"serial: {serial}\nrule: {{field: email, matches: '@example\\.com$'}}\nnotes: |\n"
    words = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")
    lines = []
    length = len(head)
    index = serial
    while length < size - 2:
        line = "  " + " ".join(words[(index + i) % len(words)] for i in range(12))
        line = line[: size - length - 1]
        lines.append(line + "\n")
        length += len(line) + 1
        index += 1
    return head + "".join(lines)
