"""Choose the snapshot interval of ``Spec`` by measurement, on a SQLite file.

    python -m benchmarks.bench_snapshots [--quick]

For each interval N, and for snapshots effectively off (N = 10**9, the baseline), a fresh
store gets one ~1.5 KB spec written to V versions (create, then V-1 ``update_spec``;
V = 1000, 400 with ``--quick``). Measured:

- update: mean cost per update, including the synchronous snapshot write every N events
  (``snap +%``: mean of all updates / mean of the updates that wrote no snapshot - 1);
- latest get: ``get_spec`` right after each of the last 200 versions, so every phase of
  every interval's snapshot cycle is sampled alike;
- historical get: ``get_spec(version=k)`` for random k in 1..V (same seed for every N).

The spec is mostly a literal block of prose (few YAML tokens), so YAML parsing, which is
not affected by snapshots, weighs less in the update cost. With snapshots off every read
replays the whole history, so that baseline takes a fifth of the reads.

The interval is set by monkeypatching ``SpecApplication.snapshotting_intervals`` before
``SpecService.open`` (allowed here only). Configurations run in rounds, alternating their
order, and samples are pooled, so drift on a noisy machine hits each alike.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from benchmarks._common import (
    ACTOR,
    Stats,
    open_service,
    parse_args,
    print_table,
    prose_content,
    temp_dir,
    timed,
)
from specsvc.application import SpecApplication
from specsvc.domainmodel import Spec

INTERVALS = (10, 25, 50, 100, 200)
OFF = 10**9
LATEST_WINDOW = 200  # a multiple of every interval: each snapshot phase sampled equally
TOLERANCE = 0.05
SPEC_BYTES = 1500
# One latest read per version: a second one, with no write between, is answered from
# memory (docs/architecture.md, Reads) and would not measure the replay.
FULL = {"versions": 1000, "latest_per_version": 1, "historical": 1000, "rounds": 2}
QUICK = {"versions": 250, "latest_per_version": 1, "historical": 100, "rounds": 1}
OFF_READS = 5  # with snapshots off every read replays the history: take 1/5 of the reads


@dataclass
class Samples:
    update_plain: list[int] = field(default_factory=list)
    update_snapshot: list[int] = field(default_factory=list)
    latest: list[int] = field(default_factory=list)
    historical: list[int] = field(default_factory=list)
    store_bytes: list[int] = field(default_factory=list)


def run_one(interval: int, size: dict[str, int], directory: str, into: Samples) -> None:
    versions = size["versions"]
    per_version = size["latest_per_version"]
    historical = size["historical"]
    if interval == OFF:
        per_version = max(1, per_version // OFF_READS)
        historical = max(50, historical // OFF_READS)
    SpecApplication.snapshotting_intervals = {Spec: interval}
    db = os.path.join(directory, f"specs-{interval}.db")
    with open_service(db) as svc:
        svc.create_spec("s", "generic", prose_content(1, SPEC_BYTES), actor=ACTOR)
        for version in range(2, versions + 1):
            content = prose_content(version, SPEC_BYTES)
            took = timed(partial(svc.update_spec, "s", content, actor=ACTOR, reason="edit"))
            (into.update_snapshot if version % interval == 0 else into.update_plain).append(took)
            if version > versions - LATEST_WINDOW:
                into.latest += [timed(lambda: svc.get_spec("s")) for _ in range(per_version)]
        picks = random.Random(20240601).choices(range(1, versions + 1), k=historical)
        into.historical += [timed(partial(svc.get_spec, "s", version=k)) for k in picks]
    into.store_bytes.append(sum(_size(db + suffix) for suffix in ("", "-wal")))
    os.remove(db)


def _size(path: str) -> int:
    return os.path.getsize(path) if os.path.exists(path) else 0


@dataclass
class Result:
    interval: int
    update: Stats
    update_plain: Stats
    latest: Stats
    historical: Stats
    store_kb: float
    snapshot_overhead: float = 0.0

    @property
    def get_score(self) -> float:
        return self.latest.p50_us + self.historical.p50_us


def measure(size: dict[str, int]) -> list[Result]:
    configs = (OFF, *INTERVALS)
    samples = {interval: Samples() for interval in configs}
    original = SpecApplication.snapshotting_intervals
    try:
        with temp_dir() as directory:
            for round_ in range(size["rounds"]):
                for interval in configs if round_ % 2 == 0 else reversed(configs):
                    run_one(interval, size, directory, samples[interval])
    finally:
        SpecApplication.snapshotting_intervals = original
    results = []
    for interval, s in samples.items():
        update = Stats(s.update_plain + s.update_snapshot)
        plain = Stats(s.update_plain)
        results.append(
            Result(
                interval,
                update,
                plain,
                Stats(s.latest),
                Stats(s.historical),
                sum(s.store_bytes) / len(s.store_bytes) / 1024,
                update.mean_us / plain.mean_us - 1,
            )
        )
    return results


def recommend(results: list[Result]) -> tuple[Result, str]:
    """Among intervals whose updates cost at most 5% more than with snapshots off and
    whose own snapshot writes add at most 5%, take the best get score (latest p50 +
    historical p50); prefer the largest interval within 5% of that best (fewer rows)."""
    off = results[0]
    eligible = [
        r
        for r in results[1:]
        if r.update.mean_us <= (1 + TOLERANCE) * off.update.mean_us
        and r.snapshot_overhead <= TOLERANCE
    ]
    if not eligible:  # nothing passes the update rule: least update cost wins
        chosen = min(results[1:], key=lambda r: r.update.mean_us)
        return chosen, "no interval met the update rule; chose the cheapest update"
    best = min(r.get_score for r in eligible)
    near = [r for r in eligible if r.get_score <= (1 + TOLERANCE) * best]
    chosen = max(near, key=lambda r: r.interval)
    others = ", ".join(str(r.interval) for r in near if r is not chosen)
    why = (
        f"get p50 latest+historical {chosen.get_score:.0f} us vs best {best:.0f} us"
        + (f" (also within 5%: {others}; the largest wins)" if others else "")
        + f"; update {chosen.update.mean_us:.0f} us = "
        f"{chosen.update.mean_us / off.update.mean_us:.2f} x off, "
        f"snapshot writes +{chosen.snapshot_overhead:.1%}"
    )
    return chosen, why


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__ or "", argv)
    size = QUICK if args.quick else FULL
    results = measure(size)
    off = results[0]
    print(
        f"bench_snapshots{' --quick' if args.quick else ''}: SQLite file, one "
        f"~{SPEC_BYTES}-byte spec written to {size['versions']} versions per configuration, "
        f"{size['rounds']} round(s); baseline = snapshots off (interval 10**9)"
    )
    rows = []
    for r in results:
        rows.append(
            [
                "off" if r.interval == OFF else r.interval,
                r.update.mean_us,
                r.update.p99_us,
                f"{r.snapshot_overhead:+.1%}" if r.interval != OFF else "-",
                r.update.mean_us / off.update.mean_us,
                r.latest.p50_us,
                r.latest.p99_us,
                r.latest.p50_us / off.latest.p50_us,
                r.historical.p50_us,
                r.historical.p99_us,
                r.historical.p50_us / off.historical.p50_us,
                r.store_kb,
            ]
        )
    print_table(
        "latency in microseconds; x off = figure / the same figure with snapshots off",
        [
            "interval",
            "upd mean",
            "upd p99",
            "snap +%",
            "upd x off",
            "latest p50",
            "latest p99",
            "x off",
            "hist p50",
            "hist p99",
            "x off",
            "store KB",
        ],
        rows,
    )
    chosen, why = recommend(results)
    print(f"\nrecommendation: SNAPSHOT_INTERVAL = {chosen.interval} ({why})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
