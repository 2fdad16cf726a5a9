"""Projection rebuild throughput, against decoding the same events without writing.

    python -m benchmarks.bench_projections [--quick]

Builds a SQLite store of S specs x E events (create, E-2 updates, publish; 200 x 25,
50 x 10 with ``--quick``), then times, in interleaved repeats (median reported):

- decode (baseline): read the whole notification log in sections and turn every record
  into a domain event with the application's mapper, writing nothing;
- ``specsvc.projections.replay`` into a fresh SQLite file, and into memory: replay the
  whole log into a fresh projections store;
- ``specsvc.operator.verify_projections``: an in-memory rebuild plus a row-by-row comparison.

``x decode`` = time / decode time, so what is above 1 is the cost of the projection
policy and its writes.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._common import ACTOR, parse_args, print_table, temp_dir, yaml_content
from specsvc import bootstrap
from specsvc.config import Settings
from specsvc.operator import verify_projections
from specsvc.persistence.sqlite.factory import scratch_env
from specsvc.projections import SpecProjections, replay

FULL = {"specs": 200, "events": 25, "repeats": 3}
QUICK = {"specs": 50, "events": 10, "repeats": 2}


def build(svc: Any, specs: int, events: int) -> None:
    for i in range(specs):
        name = f"spec-{i:04d}"
        svc.create_spec(name, "generic", yaml_content(i), actor=ACTOR)
        for update in range(events - 2):
            svc.update_spec(name, yaml_content(i * 1000 + update + 1), actor=ACTOR, reason="edit")
        svc.publish_spec(name, actor=ACTOR, reason="ship")


def decode_all(application: Any) -> int:
    """Every event of the log as a domain event, section by section; returns the count."""
    log = application.notification_log
    mapper = application.mapper
    count = 0
    start = 0
    while True:
        notifications = log.select(start, log.section_size, inclusive_of_start=False)
        if not notifications:
            return count
        for notification in notifications:
            mapper.to_domain_event(notification)
        count += len(notifications)
        start = notifications[-1].id


def rebuild(application: Any, db: str | None, head: int) -> None:
    env = scratch_env(dict(application.env), SpecProjections.name)
    if db is not None:
        env[f"{SpecProjections.name.upper()}_SQLITE_DBNAME"] = db
    projections = SpecProjections(env=env)
    try:
        replay(projections, application)
        done = projections.recorder.max_tracking_id(application.name)
        assert done == head, f"rebuild stopped at {done} of {head}"
    finally:
        projections.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__ or "", argv)
    size = QUICK if args.quick else FULL
    seconds: dict[str, list[float]] = {}
    with temp_dir() as directory:
        store = bootstrap.start(Settings(db=os.path.join(directory, "specs.db")))
        svc, application = store.service, store.application
        started = time.perf_counter()
        build(svc, size["specs"], size["events"])
        build_s = time.perf_counter() - started
        head = application.recorder.max_notification_id() or 0
        assert head == size["specs"] * size["events"], head
        counter = iter(range(1_000_000))

        def to_file() -> None:
            target = os.path.join(directory, f"rebuild-{next(counter)}.db")
            rebuild(application, target, head)
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(target + suffix):
                    os.remove(target + suffix)

        def verify() -> None:
            outcome = verify_projections(store)
            assert outcome["equal"], outcome

        def decode() -> None:
            assert decode_all(application) == head

        operations: dict[str, Callable[[], None]] = {
            "decode only (baseline)": decode,
            "rebuild -> SQLite file": to_file,
            "rebuild -> memory": lambda: rebuild(application, None, head),
            "verify_projections": verify,
        }
        for _ in range(size["repeats"]):
            for label, operation in operations.items():
                start = time.perf_counter()
                operation()
                seconds.setdefault(label, []).append(time.perf_counter() - start)
        svc.close()
    median = {label: statistics.median(values) for label, values in seconds.items()}
    base = median["decode only (baseline)"]
    print(
        f"bench_projections{' --quick' if args.quick else ''}: {size['specs']} specs x "
        f"{size['events']} events = {head:,} events (~100-byte YAML), built in "
        f"{build_s:.1f} s; median of {size['repeats']} interleaved repeat(s)"
    )
    print_table(
        "x decode = time / time of decoding the same events without writing",
        ["operation", "events", "ms", "events/s", "us/event", "x decode"],
        [
            [label, head, secs * 1e3, head / secs, secs / head * 1e6, secs / base]
            for label, secs in median.items()
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
