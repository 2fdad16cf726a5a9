"""Read latency on a SQLite file: a spec with 1 version against one with 10,000.

    python -m benchmarks.bench_reads [--quick]

Builds ``one`` (1 version) and ``many`` (10,000 versions, 1,000 with ``--quick``, written
with ``update_spec`` in a loop), both published, plus filler specs for ``list_specs``.
Each read is timed with ``time.perf_counter_ns``; reads are taken in interleaved rounds so
that drift on a noisy machine hits every row alike. The baseline, measured in the same
run, is ``get_spec`` of the 1-version spec; the key figure is get@many / get@1 (close to 1
when snapshots bound the replay).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from benchmarks._common import (
    ACTOR,
    Stats,
    open_service,
    parse_args,
    print_table,
    temp_dir,
    timed,
    yaml_content,
)

FULL = {"versions": 10_000, "reads": 2000, "rounds": 4, "sweep": 100, "sweep_reads": 20}
QUICK = {"versions": 1000, "reads": 400, "rounds": 2, "sweep": 50, "sweep_reads": 4}
FILLER_SPECS = 100
WARM_UP_READS = 20


def build(svc: Any, versions: int) -> datetime:
    """Create the specs; returns an instant half-way through the history of ``many``."""
    for i in range(FILLER_SPECS):
        svc.create_spec(f"filler-{i:03d}", "generic", yaml_content(i), actor=ACTOR)
    svc.create_spec("one", "generic", yaml_content(1), actor=ACTOR)
    svc.publish_spec("one", actor=ACTOR, reason="ship")
    svc.create_spec("many", "generic", yaml_content(0), actor=ACTOR)
    middle = datetime.now(UTC)
    for version in range(2, versions + 1):
        svc.update_spec("many", yaml_content(version), actor=ACTOR, reason="edit")
        if version == versions // 2:
            time.sleep(0.002)  # a clock tick between this version and the next
            middle = datetime.now(UTC)
            time.sleep(0.002)
    svc.publish_spec("many", actor=ACTOR, reason="ship")
    return middle


def measure(reads: dict[str, Callable[[], Any]], count: int, rounds: int) -> dict[str, Stats]:
    samples: dict[str, list[int]] = {label: [] for label in reads}
    for read in reads.values():
        for _ in range(WARM_UP_READS):
            read()
    per_round = max(1, count // rounds)
    for _ in range(rounds):
        for label, read in reads.items():
            samples[label] += [timed(read) for _ in range(per_round)]
    return {label: Stats(values) for label, values in samples.items()}


def sweep(svc: Any, updates: int, reads: int) -> tuple[Stats, Stats]:
    """Latest-get of ``many`` and ``one`` after each of ``updates`` more updates of ``many``.

    Where a read lands in the snapshot cycle decides how many events it replays; 100
    updates cover every phase of any interval dividing 100, so this is the fair figure.
    """
    many: list[int] = []
    one: list[int] = []
    for serial in range(updates):
        svc.update_spec("many", yaml_content(-serial - 1), actor=ACTOR, reason="sweep")
        for _ in range(reads):
            many.append(timed(lambda: svc.get_spec("many")))
            one.append(timed(lambda: svc.get_spec("one")))
    return Stats(many), Stats(one)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__ or "", argv)
    size = QUICK if args.quick else FULL
    versions = size["versions"]
    middle_version = versions // 2
    with temp_dir() as directory, open_service(os.path.join(directory, "specs.db")) as svc:
        started = time.perf_counter()
        middle = build(svc, versions)
        build_s = time.perf_counter() - started
        now = datetime.now(UTC)
        many = svc.get_spec("many")
        assert many["version"] == versions, many["version"]
        assert svc.get_spec("many", version=middle_version)["version"] == middle_version
        assert svc.get_spec("many", as_of=middle)["version"] == middle_version
        reads: dict[str, Callable[[], Any]] = {
            "get_spec @1": partial(svc.get_spec, "one"),
            f"get_spec @{versions}": partial(svc.get_spec, "many"),
            "get_spec(version=1) @1": partial(svc.get_spec, "one", version=1),
            f"get_spec(version={middle_version}) @{versions}": partial(
                svc.get_spec, "many", version=middle_version
            ),
            "get_spec(as_of=now) @1": partial(svc.get_spec, "one", as_of=now),
            f"get_spec(as_of=middle) @{versions}": partial(svc.get_spec, "many", as_of=middle),
            "get_published @1": partial(svc.get_published, "one"),
            f"get_published @{versions}": partial(svc.get_published, "many"),
            f"list_specs (limit 50 of {FILLER_SPECS + 2})": svc.list_specs,
        }
        results = measure(reads, size["reads"], size["rounds"])
        swept_many, swept_one = sweep(svc, size["sweep"], size["sweep_reads"])
    base = results["get_spec @1"]
    print(
        f"bench_reads{' --quick' if args.quick else ''}: SQLite file, ~100-byte YAML; "
        f"built {versions:,} versions in {build_s:.1f} s; {size['reads']} reads per row "
        f"in {size['rounds']} interleaved rounds"
    )
    print_table(
        "latency in microseconds; x base = p50 / p50 of get_spec @1 (the baseline)",
        ["read", "n", "mean", "p50", "p99", "x base"],
        [
            [label, s.n, s.mean_us, s.p50_us, s.p99_us, s.p50_us / base.p50_us]
            for label, s in results.items()
        ],
    )
    last = versions + size["sweep"]
    print_table(
        f"phase sweep: after each of {size['sweep']} more updates of many, "
        f"{size['sweep_reads']} reads of each, interleaved",
        ["read", "n", "mean", "p50", "p99", "x base"],
        [
            [label, s.n, s.mean_us, s.p50_us, s.p99_us, s.p50_us / swept_one.p50_us]
            for label, s in (
                ("get_spec @1", swept_one),
                (f"get_spec @{versions + 1}..{last}", swept_many),
            )
        ],
    )
    fixed = results[f"get_spec @{versions}"]
    print(
        f"\nkey figure: get_spec @{versions + 1}..{last} / get_spec @1 = "
        f"{swept_many.p50_us / swept_one.p50_us:.2f} (p50), "
        f"{swept_many.p99_us / swept_one.p99_us:.2f} (p99), every snapshot phase; "
        f"at exactly {versions} versions: {fixed.p50_us / base.p50_us:.2f} (p50). "
        "Target: close to 1."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
