"""Commands per second on a SQLite file and in memory, against a durable-commit floor.

    python -m benchmarks.bench_commands [--quick]

Creates N specs, updates each M times (round robin), then publishes each, timing every
call with ``time.perf_counter_ns``. The baseline, measured in the same run before and
after the service (samples pooled), is a bare ``sqlite3`` INSERT + COMMIT of a ~100-byte
row into a WAL database with ``synchronous=FULL``: the cost floor of one durable write.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial

from benchmarks._common import (
    ACTOR,
    Stats,
    durable_commit_samples,
    open_service,
    parse_args,
    print_table,
    temp_dir,
    timed,
    yaml_content,
)

FULL = {"specs": 500, "updates": 10, "baseline": 2000}
QUICK = {"specs": 40, "updates": 3, "baseline": 300}
WARM_UP_SPECS = 5


def run_commands(db: str | None, specs: int, updates: int) -> dict[str, Stats]:
    """Time every create, update and publish on one store; returns stats by command."""
    samples: dict[str, list[int]] = {"create": [], "update": [], "publish": []}
    with open_service(db) as svc:
        for i in range(WARM_UP_SPECS):  # imports, statement caches, first pages
            svc.create_spec(f"warm-{i}", "generic", yaml_content(i), actor=ACTOR)
            svc.update_spec(f"warm-{i}", yaml_content(-i - 1), actor=ACTOR, reason="warm")
            svc.publish_spec(f"warm-{i}", actor=ACTOR, reason="warm")
        names = [f"spec-{i:05d}" for i in range(specs)]
        for i, name in enumerate(names):
            create = partial(svc.create_spec, name, "generic", yaml_content(i), actor=ACTOR)
            samples["create"].append(timed(create))
        for round_ in range(updates):
            for i, name in enumerate(names):
                content = yaml_content(i * 1000 + round_ + 1)
                update = partial(svc.update_spec, name, content, actor=ACTOR, reason="edit")
                samples["update"].append(timed(update))
        for name in names:
            publish = partial(svc.publish_spec, name, actor=ACTOR, reason="ship")
            samples["publish"].append(timed(publish))
    return {command: Stats(values) for command, values in samples.items()}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__ or "", argv)
    size = QUICK if args.quick else FULL
    with temp_dir() as directory:
        floor = durable_commit_samples(directory, size["baseline"] // 2)
        results = {
            "sqlite-file": run_commands(
                os.path.join(directory, "specs.db"), size["specs"], size["updates"]
            ),
            "memory": run_commands(None, size["specs"], size["updates"]),
        }
        os.remove(os.path.join(directory, "baseline.db"))
        floor += durable_commit_samples(directory, size["baseline"] // 2)
    base = Stats(floor)
    print(
        f"bench_commands{' --quick' if args.quick else ''}: {size['specs']} specs x "
        f"{size['updates']} updates, ~100-byte YAML; baseline = sqlite3 INSERT+COMMIT "
        f"(WAL, synchronous=FULL), {base.n} samples"
    )
    rows = [_row("baseline", "commit", base, base)]
    for store, by_command in results.items():
        rows += [_row(store, command, stats, base) for command, stats in by_command.items()]
    print_table(
        "latency in microseconds; x base = command latency / baseline latency",
        ["store", "command", "n", "ops/s", "mean", "p50", "p99", "p50 x base", "mean x base"],
        rows,
        left=2,
    )
    return 0


def _row(store: str, command: str, stats: Stats, base: Stats) -> list[object]:
    return [
        store,
        command,
        stats.n,
        stats.ops_per_s,
        stats.mean_us,
        stats.p50_us,
        stats.p99_us,
        stats.p50_us / base.p50_us,
        stats.mean_us / base.mean_us,
    ]


if __name__ == "__main__":
    raise SystemExit(main())
