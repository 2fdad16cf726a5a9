"""How fast the projection worker catches up with events written while it was away.

    python -m benchmarks.bench_catchup [--quick]

Writes S specs x 3 events (created, updated, published; 1,000 specs, 100 with
``--quick``) through the service into a fresh PostgreSQL database (admin URL
``SPECSVC_BENCH_POSTGRES``, default ``postgresql://postgres@127.0.0.1:5432/test``), with
no worker running. Then, R times (3, 1 with ``--quick``), copies that database (``CREATE
DATABASE ... TEMPLATE``), starts a ``specsvc project`` worker on the copy in this process
and times it from start to a tracking record at the last position. ``transactions``
counts the worker's announcements (``NOTIFY specsvc_projected``, one per projection
transaction), heard by a LISTEN connection. The median round is reported.
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


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    specs, rounds = (100, 1) if args.quick else (1_000, 3)
    with scratch_database(ADMIN_URL, prefix="specsvc_bench_catchup") as template:
        head = write(template, specs)
        results = []
        for _ in range(rounds):
            with copy_of(template) as url:
                results.append(catch_up(url, head))
    seconds = statistics.median(s for s, _ in results)
    transactions = int(statistics.median(t for _, t in results))
    print_table(
        f"Worker catching up {head:,} pre-written events ({rounds} round(s), median)",
        ["events", "seconds", "events/s", "transactions", "events/transaction"],
        [
            [
                head,
                f"{seconds:.2f}",
                f"{head / seconds:,.0f}",
                transactions,
                f"{head / max(1, transactions):,.1f}",
            ]
        ],
        left=0,
    )


if __name__ == "__main__":
    main()
