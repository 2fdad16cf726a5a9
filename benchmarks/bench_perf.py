"""The performance table: every measure next to its baseline, taken in the same run.

    python -m benchmarks.bench_perf [--quick] [--chart PATH] [--only GROUP[,GROUP...]]

Each row is measured in 3 rounds; within a round every measure runs right after (or
around) its baseline, so drift on a noisy machine touches both alike. The table shows the
medians of the rounds. Specs are 1,991-byte ``regex-rules`` specs of 41 leaves unless a
row says otherwise; stores are SQLite files in a temporary directory.

- in-process update / create / publish: ``SpecService`` commands, one thread; baseline a
  raw SQLite INSERT+COMMIT of 2 KB (WAL, synchronous=FULL). ratio = baseline p50 /
  command p50.
- get_spec / get_published of a 1-version spec; baseline a raw indexed SELECT of one
  2 KB row. ratio = p50 / baseline p50.
- latest get at 10,000 versions (1,000 with --quick) against 1 version: after each of 10
  more updates (one snapshot cycle), interleaved reads of both; the worst point's ratio.
  Reads with no write between are answered from memory, so a second row takes each read
  right after a write of another spec: the read that finds the log moved on.
- REST: ``wrk`` with 16 connections against ``specsvc serve``; the GET baseline is a
  trivial Flask app answering a body of the same size on the same server stack
  (``rest_api.server.create_server``), the PUT baseline the raw commit rate.
- gRPC: 16 client threads in another process (bench_grpc's cases, ~1.5 KB ``generic``
  specs); GetPublishedSpec against a bare grpcio method answering the same bytes,
  UpdateSpec against the raw commit rate. The threads' channels share one connection
  (grpcio's default), so a second UpdateSpec row gives each its own connection against
  ``specsvc serve --workers 2``, which the kernel spreads over both workers.
- rebuild-projections (``rebuild_read_models``, what the command runs) of 50,000 events
  (5,000 with --quick) next to decoding the same events with the mapper alone.
- reads from 1 to 2 server processes: the REST GET above against ``specsvc serve
  --workers 1`` (every other REST row runs on one worker too, but for a second PUT row
  on ``--workers 2``, one per core here) and ``--workers 2`` over the same store;
  ratio = req/s with 2 / req/s with 1.

The chart (matplotlib, when importable) draws each row's ratio / goal on a log scale:
right of 1 the goal is met.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import bench_grpc, bench_rest
from benchmarks._common import (
    ACTOR,
    WRK_READ_LUA,
    WRK_THREAD_IDS,
    Stats,
    durable_commit_samples,
    indexed_select_samples,
    load_average,
    make_parser,
    print_table,
    regex_rules_content,
    remove_store,
    repeat,
    run_wrk,
    temp_dir,
    timed,
    wrk_missing,
    yaml_content,
)
from benchmarks._grpc_server import seed as seed_grpc_store
from benchmarks.bench_projections import build as build_events
from benchmarks.bench_projections import decode_all
from specsvc import bootstrap
from specsvc.application import SNAPSHOT_INTERVAL
from specsvc.config import Settings
from specsvc.operator import rebuild_read_models

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHART = ROOT / "benchmarks" / "results" / "perf.png"
FULL = {
    "rounds": 3,
    "commands": 150,
    "creates": 50,
    "reads": 1000,
    "versions": 10_000,
    "point_reads": 100,
    "wrk_seconds": 5,
    "grpc_requests": 1600,
    "specs": 500,
    "events": 100,
}
QUICK = {
    "rounds": 3,
    "commands": 15,
    "creates": 8,
    "reads": 200,
    "versions": 1_000,
    "point_reads": 15,
    "wrk_seconds": 1,
    "grpc_requests": 160,
    "specs": 100,
    "events": 50,
}
CONNECTIONS = 16
REST_SPECS = 50
ROW_BYTES = 2048
GOAL_EVENTS_PER_S = 20_000.0
# The row groups --only chooses from; the baselines a group needs run with it.
GROUPS = frozenset({"in-process", "history", "rest", "grpc", "rebuild"})

# Every PUT writes new content: the serial in the description is the thread and counter.
PUT_LUA = (
    WRK_THREAD_IDS
    + """
function request()
  counter = counter + 1
  local serial = string.format("%09d", counter * 2 + thread_id)
  return wrk.format("PUT", "/v1/specs/put-" .. ((counter * 2 + thread_id) % SPECS) .. "/content",
    {["Content-Type"] = "application/json"}, [==[PREFIX]==] .. serial .. [==[SUFFIX]==])
end
"""
)


@dataclass
class Row:
    measure: str
    value: str
    baseline: str
    ratio: float | None  # None: not measured (``value`` says why)
    goal: float
    at_least: bool  # the goal is ratio >= goal (else ratio <= goal)
    goal_text: str = ""
    checked: float | None = None  # what the goal is about, when not the ratio

    @property
    def score(self) -> float | None:
        """The figure the goal is about / goal, turned so that 1 or more means met."""
        figure = self.ratio if self.checked is None else self.checked
        if figure is None or figure <= 0:
            return None
        return figure / self.goal if self.at_least else self.goal / figure

    def cells(self) -> list[Any]:
        goal = self.goal_text or f"{'≥' if self.at_least else '≤'} {self.goal:g}"
        if self.score is None:
            return [self.measure, self.value, self.baseline, "n/a", goal, "n/a"]
        met = "yes" if self.score >= 1 else "NO"
        return [self.measure, self.value, self.baseline, f"{self.ratio:.2f}x", goal, met]


class Rounds:
    """Figures noted once per round; their medians make the table."""

    def __init__(self) -> None:
        self.figures: dict[str, list[float]] = {}

    def note(self, **figures: float) -> None:
        for key, value in figures.items():
            self.figures.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> float:
        return statistics.median(self.figures[key])


# ---------------------------------------------------------------------------- stores


def fill_store(directory: str, name: str, build: Callable[[Any], None]) -> str:
    """The path of a new store ``directory/name`` that ``build(service)`` filled. The
    filling happens on /dev/shm when there is one (it is CPU-bound, and fsync there is
    free); the closed files are then copied to ``directory``."""
    scratch = "/dev/shm" if os.path.isdir("/dev/shm") else directory
    with tempfile.TemporaryDirectory(prefix="specsvc-bench-", dir=scratch) as building:
        store = bootstrap.start(Settings(db=os.path.join(building, name)))
        try:
            build(store.service)
        finally:
            store.service.close()
        for file in os.listdir(building):
            shutil.copyfile(os.path.join(building, file), os.path.join(directory, file))
    return os.path.join(directory, name)


@contextmanager
def opened(db: str) -> Iterator[Any]:
    store = bootstrap.start(Settings(db=db))
    try:
        yield store
    finally:
        store.service.close()
        remove_store(db)


def fill_commands_store(svc: Any, versions: int) -> None:
    svc.create_spec("one", "regex-rules", regex_rules_content(1), actor=ACTOR)
    svc.publish_spec("one", actor=ACTOR, reason="ship")
    svc.create_spec("edited", "regex-rules", regex_rules_content(2), actor=ACTOR)
    svc.create_spec("generic", "generic", yaml_content(3, 1991), actor=ACTOR)
    svc.create_spec("many", "regex-rules", regex_rules_content(0), actor=ACTOR)
    svc.create_spec("tick", "generic", "tick: 0\n", actor=ACTOR)
    for version in range(2, versions + 1):
        svc.update_spec("many", regex_rules_content(version), actor=ACTOR, reason="edit")


# ------------------------------------------------------------------ in-process rows


def in_process_round(svc: Any, directory: str, size: dict[str, int], n: int, out: Rounds) -> None:
    serial = iter(range(n * 1_000_000, (n + 1) * 1_000_000))
    commands = size["commands"]
    commits = durable_commit_samples(directory, commands, ROW_BYTES)
    # Every command's arguments are made before its clock starts.

    def edits(name: str, content: Callable[[int], str]) -> list[int]:
        return [
            timed(partial(svc.update_spec, name, content(next(serial)), actor=ACTOR, reason="e"))
            for _ in range(commands)
        ]

    regex = edits("edited", regex_rules_content)
    generic = edits("generic", lambda serial: yaml_content(serial, 1991))
    names = [f"new-{n}-{i}" for i in range(size["creates"])]
    creates = [
        timed(
            partial(
                svc.create_spec, name, "regex-rules", regex_rules_content(next(serial)), actor=ACTOR
            )
        )
        for name in names
    ]
    publishes = [
        timed(partial(svc.publish_spec, name, actor=ACTOR, reason="ship")) for name in names
    ]
    commits += durable_commit_samples(directory, commands, ROW_BYTES)
    selects = indexed_select_samples(directory, size["reads"], ROW_BYTES)
    gets = repeat(lambda: svc.get_spec("one"), size["reads"])
    published = repeat(lambda: svc.get_published("one"), size["reads"])
    selects += indexed_select_samples(directory, size["reads"], ROW_BYTES)
    commit, select = Stats(commits), Stats(selects)
    out.note(commit_p50=commit.p50_us, commit_ops=commit.ops_per_s, select_p50=select.p50_us)
    for key, samples in (
        ("regex", regex),
        ("generic", generic),
        ("create", creates),
        ("publish", publishes),
    ):
        stats = Stats(samples)
        out.note(
            **{
                f"{key}_p50": stats.p50_us,
                f"{key}_ops": stats.ops_per_s,
                f"{key}_ratio": commit.p50_us / stats.p50_us,
            }
        )
    for key, samples in (("get", gets), ("published", published)):
        stats = Stats(samples)
        out.note(**{f"{key}_p50": stats.p50_us, f"{key}_ratio": stats.p50_us / select.p50_us})


def baseline_round(directory: str, size: dict[str, int], out: Rounds) -> None:
    """The raw commit and select alone, for a run whose --only leaves out the in-process
    rows (which take them around their own commands)."""
    commit = Stats(durable_commit_samples(directory, size["commands"], ROW_BYTES))
    select = Stats(indexed_select_samples(directory, size["reads"], ROW_BYTES))
    out.note(commit_p50=commit.p50_us, commit_ops=commit.ops_per_s, select_p50=select.p50_us)


def history_round(svc: Any, size: dict[str, int], n: int, out: Rounds) -> None:
    """After each update of one snapshot cycle, reads of ``many`` and ``one`` interleaved,
    and the same reads each right after a write of another spec (the first read after a
    write finds the log's head moved and confirms, or replays, what it kept); notes each
    worst point."""
    worst = {"history": (0.0, 0.0, 0.0), "replay": (0.0, 0.0, 0.0)}
    for step in range(SNAPSHOT_INTERVAL):
        content = regex_rules_content(-(n * SNAPSHOT_INTERVAL + step + 1))
        svc.update_spec("many", content, actor=ACTOR, reason="sweep")
        reads: dict[str, tuple[list[int], list[int]]] = {"history": ([], []), "replay": ([], [])}
        for read in range(size["point_reads"]):
            for name in ("many", "one"):  # both kept at the log's current head
                svc.get_spec(name)
            reads["history"][0].append(timed(lambda: svc.get_spec("many")))
            reads["history"][1].append(timed(lambda: svc.get_spec("one")))
            for column, name in enumerate(("many", "one")):  # each read right after a write
                serial = f"{n}-{step}-{read}-{name}"
                svc.update_spec("tick", f"tick: {serial}\n", actor=ACTOR, reason="tick")
                reads["replay"][column].append(timed(partial(svc.get_spec, name)))
        for kind, (many, one) in reads.items():
            many_p50, one_p50 = Stats(many).p50_us, Stats(one).p50_us
            worst[kind] = max(worst[kind], (many_p50 / one_p50, many_p50, one_p50))
    for kind, (ratio, many_p50, one_p50) in worst.items():
        out.note(**{f"{kind}_ratio": ratio, f"{kind}_p50": many_p50, f"{kind}_base_p50": one_p50})


def rebuild_round(store: Any, events: int, out: Rounds) -> None:
    started = time.perf_counter()
    assert decode_all(store.application) == events
    decode_s = time.perf_counter() - started
    started = time.perf_counter()
    report = rebuild_read_models(store)
    rebuild_s = time.perf_counter() - started
    assert report["position"]["after"] == events, report
    out.note(decode_eps=events / decode_s, rebuild_eps=events / rebuild_s)


# ---------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed_rest_store(svc: Any) -> None:
    for n in range(REST_SPECS):
        svc.create_spec(f"bench-{n}", "regex-rules", regex_rules_content(n), actor=ACTOR)
        svc.publish_spec(f"bench-{n}", actor=ACTOR, reason="seed")
        svc.create_spec(f"put-{n}", "regex-rules", regex_rules_content(n), actor=ACTOR)


def start_specsvc_serve(
    db: str, workers: int, grpc_port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """``specsvc serve --workers N`` on ``db`` (this checkout's package), with gRPC on
    ``grpc_port`` if given, once it answers /readyz."""
    port = free_port()
    grpc_args = [] if grpc_port is None else ["--grpc-addr", f"127.0.0.1:{grpc_port}"]
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from specsvc.cli import main; sys.exit(main())",
            "serve",
            "--db",
            db,
            "--rest-addr",
            f"127.0.0.1:{port}",
            "--log-level",
            "WARNING",
            "--workers",
            str(workers),
            *grpc_args,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=5) as answer:
                if answer.status == 200:
                    return process, base
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"specsvc serve did not become ready (exit {process.poll()})")
        time.sleep(0.1)


def body_bytes(base: str, path: str) -> int:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", path)
    answer = connection.getresponse()
    size = len(answer.read())
    connection.close()
    assert answer.status == 200, answer.status
    return size


def put_script() -> str:
    content = regex_rules_content(10**8).replace(str(10**8), "SERIAL", 1)  # 9 digits
    body = json.dumps({"reason": "bench", "content": content})
    prefix, suffix = body.split("SERIAL")
    return PUT_LUA.replace("PREFIX", prefix).replace("SUFFIX", suffix)


def rest_round(bases: dict[str, str], seconds: float, n: int, out: Rounds) -> None:
    runs = {
        "flask": (bases["flask"], WRK_READ_LUA),
        "get": (bases["spec"], WRK_READ_LUA),
        "get2": (bases["spec2"], WRK_READ_LUA),
        "put": (bases["spec"], put_script()),
        "put2": (bases["spec2"], put_script()),
    }
    order = list(runs) if n % 2 == 0 else list(reversed(runs))
    for label in order:
        url, script = runs[label]
        got = run_wrk(url, script.replace("SPECS", str(REST_SPECS)), seconds, CONNECTIONS)
        ok = got["requests"] - got["non_2xx"]
        out.note(
            **{
                f"{label}_rps": ok / got["seconds"],
                f"{label}_p99": got["p99_us"],
                f"{label}_failed": got["non_2xx"] + got["socket_errors"],
            }
        )


def grpc_round(ports: dict[str, int], requests: int, out: Rounds) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks._grpc_load",
            str(ports["spec"]),
            str(ports["bare"]),
            str(requests),
            str(CONNECTIONS),
            str(ports["workers"]),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    bare_get, get, bare_update, update, update2 = json.loads(done.stdout)
    out.note(
        grpc_bare_get=bare_get["ops_per_s"],
        grpc_get=get["ops_per_s"],
        grpc_bare_update=bare_update["ops_per_s"],
        grpc_update=update["ops_per_s"],
        grpc_update2=update2["ops_per_s"],
    )


# ------------------------------------------------------------------------ table


def us(value: float) -> str:
    return f"{value:,.0f} us" if value >= 100 else f"{value:.1f} us"


def rows_of(
    r: Rounds, size: dict[str, int], wrk_absent: str | None, only: frozenset[str] = GROUPS
) -> list[Row]:
    commit = f"p50 {us(r['commit_p50'])}, {r['commit_ops']:,.0f}/s"
    commit_rate = f"commit {r['commit_ops']:,.0f}/s"
    select = f"p50 {us(r['select_p50'])}"
    rows: list[Row] = []
    if "in-process" in only:
        rows += in_process_rows(r, commit, select)
    if "history" in only:
        rows += [
            Row(f"latest get @{size['versions']:,} vs @1, worst of a cycle",
                f"p50 {us(r['history_p50'])}", f"p50 {us(r['history_base_p50'])}",
                r["history_ratio"], 1.3, False),
            Row("  the same, each read right after a write", f"p50 {us(r['replay_p50'])}",
                f"p50 {us(r['replay_base_p50'])}", r["replay_ratio"], 1.3, False),
        ]  # fmt: skip
    if "rest" in only:
        rows += rest_rows(r, commit_rate, wrk_absent)
    if "grpc" in only:
        rows += [
            Row(f"gRPC GetPublishedSpec, {CONNECTIONS} threads", f"{r['grpc_get']:,.0f} calls/s",
                f"bare {r['grpc_bare_get']:,.0f} calls/s", r["grpc_get"] / r["grpc_bare_get"],
                0.7, True),
            Row(f"gRPC UpdateSpec, {CONNECTIONS} threads", f"{r['grpc_update']:,.0f} calls/s",
                commit_rate, r["grpc_update"] / r["commit_ops"], 0.2, True),
            Row("  the same, serve --workers 2, own connections",
                f"{r['grpc_update2']:,.0f} calls/s", commit_rate,
                r["grpc_update2"] / r["commit_ops"], 0.2, True),
        ]  # fmt: skip
    if "rebuild" in only:
        events = size["specs"] * size["events"]
        rows.append(
            Row(f"rebuild-projections, {events:,} events", f"{r['rebuild_eps']:,.0f} ev/s",
                f"decode {r['decode_eps']:,.0f} ev/s", r["rebuild_eps"] / r["decode_eps"],
                GOAL_EVENTS_PER_S, True, f"≥ {GOAL_EVENTS_PER_S:,.0f} ev/s", r["rebuild_eps"])
        )  # fmt: skip
    if "rest" in only:
        rows.append(scaling_row(r, wrk_absent))
    return rows


def in_process_rows(r: Rounds, commit: str, select: str) -> list[Row]:
    rows = [
        Row(label, f"p50 {us(r[key + '_p50'])}, {r[key + '_ops']:,.0f}/s", commit,
            r[key + "_ratio"], goal, True)
        for key, label, goal in (
            ("regex", "in-process update, 1 thread", 0.25),
            ("generic", "in-process update, 2 KB generic", 0.4),
            ("create", "in-process create", 0.25),
            ("publish", "in-process publish", 0.25),
        )
    ]  # fmt: skip
    rows += [
        Row("get_spec, 1 version", f"p50 {us(r['get_p50'])}", select, r["get_ratio"], 10, False),
        Row("get_published", f"p50 {us(r['published_p50'])}", select, r["published_ratio"], 5,
            False),
    ]  # fmt: skip
    return rows


def rest_rows(r: Rounds, commit_rate: str, wrk_absent: str | None) -> list[Row]:
    get, put = f"REST GET published, {CONNECTIONS} conn", f"REST PUT content, {CONNECTIONS} conn"
    if wrk_absent:
        labels = (f"{get}, req/s", f"{get}, p99", put, "  the same, serve --workers 2")
        return [Row(label, f"n/a ({wrk_absent})", "", None, 1, True) for label in labels]
    flask = f"Flask {r['flask_rps']:,.0f} req/s, p99 {us(r['flask_p99'])}"
    return [
        Row(f"{get}, req/s", f"{r['get_rps']:,.0f} req/s", flask,
            r["get_rps"] / r["flask_rps"], 0.7, True),
        Row(f"{get}, p99", f"p99 {us(r['get_p99'])}", flask,
            r["get_p99"] / r["flask_p99"], 1.5, False),
        Row(put, f"{r['put_rps']:,.0f} req/s", commit_rate,
            r["put_rps"] / r["commit_ops"], 0.2, True),
        Row("  the same, serve --workers 2", f"{r['put2_rps']:,.0f} req/s", commit_rate,
            r["put2_rps"] / r["commit_ops"], 0.2, True),
    ]  # fmt: skip


def scaling_row(r: Rounds, wrk_absent: str | None) -> Row:
    if wrk_absent:
        return Row("reads, 1 -> 2 server processes", f"n/a ({wrk_absent})", "", None, 1.7, True)
    return Row("reads, 1 -> 2 server processes", f"{r['get2_rps']:,.0f} req/s",
               f"{r['get_rps']:,.0f} req/s with 1", r["get2_rps"] / r["get_rps"], 1.7,
               True)  # fmt: skip


def draw(rows: Sequence[Row], path: Path, title: str) -> str:
    """The chart of ratio / goal per row; where it went, or why there is none."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no chart: matplotlib is not installed (pip install -e '.[bench]')"
    drawn = [row for row in rows if row.score is not None]
    scores = [row.score or 0.0 for row in drawn]
    figure, axes = plt.subplots(figsize=(9, 0.45 * len(drawn) + 1.5))
    colours = ["tab:green" if s >= 1 else "tab:red" for s in scores]
    axes.barh([row.measure for row in drawn], scores, color=colours)
    axes.set_xscale("log")
    axes.axvline(1, color="black", linewidth=1)
    axes.invert_yaxis()
    axes.set_xlabel("figure / goal, inverted for a ≤ goal (log scale; 1 or more: goal met)")
    axes.set_title(title, fontsize=9)
    axes.set_xlim(right=max(2.0, max(scores, default=1.0) * 2))
    for index, row in enumerate(drawn):
        shown = row.value if row.checked is not None else row.cells()[3]
        axes.annotate(
            f" {shown} (goal {row.cells()[4]})", (scores[index], index), va="center", fontsize=7
        )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return f"chart: {path}"


# ------------------------------------------------------------------------- main


def groups(text: str) -> frozenset[str]:
    chosen = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = chosen - GROUPS
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown group {', '.join(sorted(unknown)) or '(none)'}; "
            f"choose from {', '.join(sorted(GROUPS))}"
        )
    return chosen


def no_specs(svc: Any) -> None:
    """An empty store, for a run whose --only does not read it."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser((__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--chart",
        type=Path,
        help=f"where to write the PNG (default "
        f"{DEFAULT_CHART.relative_to(ROOT)}; --quick: the temp directory)",
    )
    parser.add_argument(
        "--only",
        type=groups,
        default=GROUPS,
        metavar="GROUP[,GROUP...]",
        help=f"measure only these rows ({', '.join(sorted(GROUPS))}); default all",
    )
    args = parser.parse_args(argv)
    only: frozenset[str] = args.only
    # Stopped by SIGTERM, still stop the servers and remove the stores (the finally below).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    size = QUICK if args.quick else FULL
    chart = args.chart or (
        Path(tempfile.gettempdir()) / "specsvc-bench-perf-quick.png"
        if args.quick
        else DEFAULT_CHART
    )
    print(f"bench_perf{' --quick' if args.quick else ''}: start, {load_average()}", flush=True)
    started = time.perf_counter()
    wrk_absent = wrk_missing() if "rest" in only else None
    if wrk_absent and not args.quick:
        print(f"error: {wrk_absent}", file=sys.stderr)
        return 2
    rounds = Rounds()
    events = size["specs"] * size["events"]
    processes: list[subprocess.Popen[Any]] = []
    with temp_dir() as directory:
        try:
            rest_db = fill_store(directory, "rest.db", seed_rest_store)
            bases: dict[str, str] = {}
            if "rest" in only and not wrk_absent:
                spec, bases["spec"] = start_specsvc_serve(rest_db, 1)
                processes.append(spec)
                spec2, bases["spec2"] = start_specsvc_serve(rest_db, 2)
                processes.append(spec2)
                size_of_body = body_bytes(bases["spec"], "/v1/specs/bench-0/published")
                flask, port = bench_rest.start_server("specsvc", "flask", str(size_of_body))
                processes.append(flask)
                bases["flask"] = f"http://127.0.0.1:{port}"
            ports = {}
            for app in ("bare", "spec") if "grpc" in only else ():
                process, ports[app] = bench_grpc.start_server(
                    app, os.path.join(directory, "grpc.db")
                )
                processes.append(process)
            if "grpc" in only:
                ports["workers"] = free_port()
                workers_db = fill_store(directory, "grpc-workers.db", seed_grpc_store)
                grpc2, _ = start_specsvc_serve(workers_db, 2, ports["workers"])
                processes.append(grpc2)

            def commands(svc: Any) -> None:
                fill_commands_store(svc, size["versions"])

            def projections(svc: Any) -> None:
                build_events(svc, size["specs"], size["events"])

            specs_db = fill_store(
                directory, "specs.db", commands if only & {"in-process", "history"} else no_specs
            )
            events_db = fill_store(
                directory, "events.db", projections if "rebuild" in only else no_specs
            )
            with opened(specs_db) as store, opened(events_db) as events_store:
                built_s = time.perf_counter() - started
                print(f"stores built in {built_s:.0f} s; {size['rounds']} rounds", flush=True)
                for n in range(size["rounds"]):
                    if "in-process" in only:
                        in_process_round(store.service, directory, size, n, rounds)
                    else:
                        baseline_round(directory, size, rounds)
                    if "history" in only:
                        history_round(store.service, size, n, rounds)
                    if "rest" in only and not wrk_absent:
                        rest_round(bases, size["wrk_seconds"], n, rounds)
                    if "grpc" in only:
                        grpc_round(ports, size["grpc_requests"], rounds)
                    if "rebuild" in only:
                        rebuild_round(events_store, events, rounds)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
    rows = rows_of(rounds, size, wrk_absent, only)
    title = (
        f"bench_perf{' --quick' if args.quick else ''}: medians of {size['rounds']} interleaved"
        f" rounds, {time.perf_counter() - started:.0f} s"
    )
    print_table(
        title,
        ["measure", "value", "baseline", "ratio", "goal", "met?"],
        [row.cells() for row in rows],
        left=3,
    )
    failed = sum(
        int(sum(rounds.figures.get(f"{k}_failed", [0])))
        for k in ("flask", "get", "get2", "put", "put2")
    )
    if "rest" in only:
        print(f"\nfailed HTTP requests (non-2xx or socket errors): {failed}")
    print(draw(rows, chart, title))
    print(f"bench_perf: end, {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
