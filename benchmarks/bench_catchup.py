"""How fast the projection worker catches up with events written while it was away.

    python -m benchmarks.bench_catchup [--quick]

Writes S specs x 3 events (created, updated, published; 1,000 specs, 100 with
``--quick``) through the service into a fresh PostgreSQL database (admin URL
``SPECSVC_BENCH_POSTGRES``, default ``postgresql://postgres@127.0.0.1:5432/test``), with
no worker running. Then, R times (3, 1 with ``--quick``), copies that database (``CREATE
DATABASE ... TEMPLATE``), starts a ``specsvc project`` worker on the copy in this process
and times it from start to a tracking record at the last position, once as it runs
(``batched``: what is waiting, up to ``BATCH_LIMIT`` events per transaction) and once
with batches of one (``one per event``, the library's own loop: the baseline), in
alternating order. ``transactions`` counts the worker's announcements (``NOTIFY
specsvc_projected``, one per projection transaction), heard by a LISTEN connection.
The median round of each is reported; ``x base`` = seconds / the baseline's seconds.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from benchmarks._common import parse_args, print_table
from specsvc import bootstrap
from specsvc.config import Settings
from specsvc.runners import worker as worker_module
from tests.support.stores import running_worker, scratch_database

ADMIN_URL = os.environ.get("SPECSVC_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CHANNEL = "specsvc_projected"  # specsvc/persistence/postgres/schema.py: PROJECTED_CHANNEL
ACTOR = {"actor": "bench", "reason": "bench"}


def write(url: str, specs: int) -> int:
    started = bootstrap.start(Settings(database_url=url))
    try:
        svc = started.service
        for i in range(specs):
            svc.create_spec(f"spec-{i}", "generic", f"n: {i}\n", actor="bench")
            svc.update_spec(f"spec-{i}", f"n: {i}\nm: 1\n", **ACTOR)
            svc.publish_spec(f"spec-{i}", **ACTOR)
        return int(started.application.recorder.max_notification_id() or 0)
    finally:
        started.service.close()


@contextmanager
def copy_of(template: str) -> Iterator[str]:
    with scratch_database(ADMIN_URL, prefix="specsvc_bench_catchup") as url:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name}")
            admin.execute(f"CREATE DATABASE {name} TEMPLATE {template.rsplit('/', 1)[1]}")
        yield url


def catch_up(url: str, head: int) -> tuple[float, int]:
    """Seconds for a worker started on ``url`` to project up to ``head``, and the
    number of projection transactions it announced."""
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        began = time.perf_counter()
        with running_worker(Settings(database_url=url)) as worker:
            while worker.status()["position"] < head:  # type: ignore[attr-defined]
                time.sleep(0.01)
            seconds = time.perf_counter() - began
        announced = sum(1 for _ in listener.notifies(timeout=0.5))
    return seconds, announced


@contextmanager
def batch_limit(limit: int) -> Iterator[None]:
    saved = worker_module.BATCH_LIMIT
    worker_module.BATCH_LIMIT = limit
    try:
        yield
    finally:
        worker_module.BATCH_LIMIT = saved


VARIANTS = {"one per event": 1, "batched": worker_module.BATCH_LIMIT}


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    specs, rounds = (100, 1) if args.quick else (1_000, 3)
    results: dict[str, list[tuple[float, int]]] = {name: [] for name in VARIANTS}
    with scratch_database(ADMIN_URL, prefix="specsvc_bench_catchup") as template:
        head = write(template, specs)
        for round_ in range(rounds):
            order = list(VARIANTS) if round_ % 2 == 0 else list(reversed(VARIANTS))
            for name in order:
                with copy_of(template) as url, batch_limit(VARIANTS[name]):
                    results[name].append(catch_up(url, head))
    base = statistics.median(s for s, _ in results["one per event"])
    rows = []
    for name, runs in results.items():
        seconds = statistics.median(s for s, _ in runs)
        transactions = int(statistics.median(t for _, t in runs))
        rows.append(
            [
                name,
                head,
                f"{seconds:.2f}",
                f"{head / seconds:,.0f}",
                transactions,
                f"{head / max(1, transactions):,.1f}",
                f"{seconds / base:.2f}",
            ]
        )
    print_table(
        f"Worker catching up {head:,} pre-written events ({rounds} round(s), median)",
        ["variant", "events", "seconds", "events/s", "transactions", "events/tx", "x base"],
        rows,
    )


if __name__ == "__main__":
    main()
