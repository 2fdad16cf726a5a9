"""Helpers shared by the benchmarks: arguments, timing, statistics, tables, baselines."""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
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


def make_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every benchmark takes (``--quick``); a script may add its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="a small, fast variant (a smoke test, not a figure)"
    )
    return parser


def parse_args(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    return make_parser(description).parse_args(argv)


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages, and its core count."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


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
    """The cost floor of a durable write: one INSERT + COMMIT of ``row_bytes`` per sample,
    into a WAL database with ``synchronous=FULL`` (what the service's stores use)."""
    connection = sqlite3.connect(
        os.path.join(directory, "baseline.db"), isolation_level=None, check_same_thread=False
    )
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL)"
        )
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


def indexed_select_samples(directory: str, count: int, row_bytes: int = 2048) -> list[int]:
    """The cost floor of a read: one ``SELECT body ... WHERE name = ?`` on an indexed
    column of a 100-row table (in a WAL file), fetching a ``row_bytes`` body per sample."""
    path = os.path.join(directory, "select-baseline.db")
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS specs (name TEXT NOT NULL UNIQUE, body BLOB NOT NULL)"
        )
        connection.executemany(
            "INSERT OR REPLACE INTO specs (name, body) VALUES (?, ?)",
            [(f"spec-{n}", os.urandom(row_bytes)) for n in range(100)],
        )
        names = iter(range(10**9))

        def read() -> None:
            name = f"spec-{next(names) % 100}"
            row = connection.execute("SELECT body FROM specs WHERE name = ?", (name,)).fetchone()
            assert row is not None

        for _ in range(min(20, count)):
            read()
        return repeat(read, count)
    finally:
        connection.close()


def regex_rules_content(serial: int, size: int = 1991, leaves: int = 41) -> str:
    """A valid ``regex-rules`` spec of exactly ``size`` UTF-8 bytes: ``leaves`` flow-style
    leaves under ``rule: {all: [...]}``, and a description carrying ``serial``."""
    lines = [f"    - {{field: f{i}, matches: '^[a-z]{{1,{i % 9 + 1}}}$'}}\n" for i in range(leaves)]
    body = "rule:\n  all:\n" + "".join(lines)
    head = f"description: spec {serial} "
    pad = size - len(head) - len(body) - 1
    if pad < 0:
        raise ValueError(f"{leaves} leaves do not fit in {size} bytes")
    return head + "x" * pad + "\n" + body


# wrk Lua scripts (SPECS stands for the number of specs). Each wrk thread gets a thread_id
# (1, 2, ...) and counts its requests; WRK_READ_LUA GETs /v1/specs/bench-N/published
# round robin.
WRK_THREAD_IDS = """
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
"""
WRK_READ_LUA = """
local counter = 0
function request()
  counter = counter + 1
  return wrk.format("GET", "/v1/specs/bench-" .. (counter % SPECS) .. "/published")
end
"""


def wrk_missing() -> str | None:
    """Why ``wrk`` cannot run here, or None. As root, installs it (Debian's ``wrk``) first."""
    if shutil.which("wrk"):
        return None
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is not installed: apt-get install -y wrk", flush=True)
        for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "wrk"]):
            subprocess.run(command, stdout=subprocess.DEVNULL, check=False)
        if shutil.which("wrk"):
            return None
    return "wrk not installed (as root: apt-get install -y wrk)"


def run_wrk(url: str, script: str, seconds: float, connections: int) -> dict[str, float]:
    """Requests, seconds, non-2xx answers, socket errors and p99 (us) of one ``wrk`` run
    with 2 threads and the Lua ``script``."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    try:
        done = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", lua.name, url],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    finally:
        os.unlink(lua.name)
    out = done.stdout
    assert done.returncode == 0, done.stdout + done.stderr
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    took = re.search(r"requests in ([\d.]+)(m?s)", out)
    assert took is not None, out
    duration = float(took.group(1)) / (1000 if took.group(2) == "ms" else 1)
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1.0, "ms": 1e3, "s": 1e6}
    return {
        "requests": requests,
        "seconds": duration,
        "non_2xx": int(failed.group(1)) if failed else 0,
        "socket_errors": 0 if errors is None else sum(map(int, re.findall(r"\d+", errors[0]))),
        "p99_us": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
    }
