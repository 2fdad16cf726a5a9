"""What the hash chain costs: commands and reads with and without it, verify, start-up.

    python -m benchmarks.bench_chain [--quick]

1. Three stores: no chain (the baseline: the service's event recorder minus the chain,
   defined below), the chain without a key (SHA-256) and with one (HMAC-SHA-256), each on
   a SQLite file and in memory (the same work without durable commits). Each gets S specs
   of ~2 KB (``yaml_content``) created, updated U times (round robin) and published, then
   R ``get_spec`` reads of random specs. The three stores are open at once and take each
   operation in turn, rotating which goes first, so that drift on a shared machine hits
   all three alike; fresh stores in each of a few rounds, samples pooled.
   ``x none`` = p50 / the unchained store's p50.
2. ``verify`` on a store of E events of ~100 B content (each spec's saved in one
   transaction, as a bulk load does): ``verify_store`` as a whole and the chain walk
   alone (``walk_chain``), against the baseline of reading the same notification log in
   pages without checking anything.
3. The start-up check: ``check_chain_tail`` over the last T events (and 0) on that store,
   and ``SpecService.open`` + ``close`` with ``startup_check_events`` T and 0.
"""

from __future__ import annotations

import base64
import itertools
import os
import random
import statistics
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from functools import partial
from tempfile import TemporaryDirectory
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from benchmarks._common import (
    ACTOR,
    Stats,
    parse_args,
    print_table,
    remove_store,
    temp_dir,
    timed,
    yaml_content,
)
from specsvc import SpecService, bootstrap
from specsvc.application import SpecApplication
from specsvc.config import Settings
from specsvc.domainmodel import Spec
from specsvc.operator import rebuild_read_models, verify_store
from specsvc.operator.chain_check import walk_chain
from specsvc.persistence import sql
from specsvc.persistence.sqlite.events import SpecEventRecorder
from specsvc.persistence.sqlite.files import copy_database, store_files

# Commands: specs, updates of each, reads, rounds. verify: events of ``per_spec`` each,
# repeats of the scan and the chain walk (verify_store: ``verify_repeats``). Start-up:
# the events at the end of the log that the check covers.
FULL = dict(specs=40, updates=10, reads=1000, rounds=3, events=100_000, per_spec=250)
FULL |= dict(repeats=3, verify_repeats=1, tail=10_000)
QUICK = dict(specs=6, updates=3, reads=60, rounds=1, events=3_000, per_spec=100)
QUICK |= dict(repeats=1, verify_repeats=1, tail=10_000)
SPEC_BYTES = 2000
BULK_BYTES = 100  # the verify store's content: 100,000 events of 2 KB take too long to build
COMMANDS = ("create", "update", "publish", "get_spec")
MEDIA = ("file", "memory")  # memory: the same work without the durable commits
STORES = ("no chain", "sha-256", "hmac")
MS = 1e6


class UnchainedRecorder(SpecEventRecorder):
    """The baseline "no chain" store, for this benchmark only: ``SpecEventRecorder``'s
    event, timeline and kept-answer writes without the chain link, and the library's
    unchecked ``select_events``. The factory binds the chain key to the class it builds
    (``chain.bound``) unless the library's ``APPLICATION_RECORDER_TOPIC`` names another;
    ``unchained`` sets that for the event store's application while a store opens."""

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = SQLiteApplicationRecorder._insert_events(self, c, stored_events, **kwargs)
        timeline = kwargs.get("spec_timeline", [])
        for row in sql.timeline_rows(stored_events, positions or (), timeline):
            c.execute(sql.INSERT_TIMELINE, row)
        answer = kwargs.get("idempotency")
        if answer is not None and positions:
            self._insert_answer(c, answer, positions[-1])
        return positions

    select_events = SQLiteApplicationRecorder.select_events  # type: ignore[assignment]


@contextmanager
def unchained() -> Iterator[None]:
    """Stores opened inside use ``UnchainedRecorder`` for their events."""
    key = f"{SpecApplication.name.upper()}_APPLICATION_RECORDER_TOPIC"
    os.environ[key] = f"{__name__}:UnchainedRecorder"
    try:
        yield
    finally:
        del os.environ[key]


def write_key(directory: str) -> str:
    path = os.path.join(directory, "chain.key")
    with open(path, "w") as file:
        file.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    return path


def run_commands(
    services: dict[str, SpecService], size: dict[str, int], into: dict[str, dict[str, list[int]]]
) -> None:
    """Time every command and read on each store in turn, rotating which goes first."""
    steps = itertools.count()

    def each(command: str, method: str, *args: Any, **kwargs: Any) -> None:
        first = next(steps) % len(services)
        for store in STORES[first:] + STORES[:first]:
            call = partial(getattr(services[store], method), *args, **kwargs)
            into[store][command].append(timed(call))

    names = [f"s{n:03d}" for n in range(size["specs"])]
    for serial, name in enumerate(names):
        content = yaml_content(serial, SPEC_BYTES)
        each("create", "create_spec", name, "generic", content, actor=ACTOR)
    for round_ in range(1, size["updates"] + 1):
        for serial, name in enumerate(names):
            content = yaml_content(serial * 1000 + round_, SPEC_BYTES)
            each("update", "update_spec", name, content, actor=ACTOR, reason="edit")
    for name in names:
        each("publish", "publish_spec", name, actor=ACTOR, reason="ship")
    for name in random.Random(20261206).choices(names, k=size["reads"]):
        each("get_spec", "get_spec", name)


def measure_commands(directory: str, key_file: str, size: dict[str, int]) -> dict[str, Any]:
    """Stats by medium ("file", "memory"), store and command: in each round, the three
    stores of a medium are open at once and take each operation in turn."""
    samples: dict[str, dict[str, dict[str, list[int]]]] = {
        medium: {store: {command: [] for command in COMMANDS} for store in STORES}
        for medium in MEDIA
    }
    for round_ in range(size["rounds"]):
        for medium in MEDIA:
            stores: dict[str, bootstrap.Components] = {}
            try:
                for store in STORES:
                    db = os.path.join(directory, f"commands-{round_}-{STORES.index(store)}.db")
                    settings = Settings(
                        db=db if medium == "file" else None,
                        chain_key_file=key_file if store == "hmac" else None,
                    )
                    with unchained() if store == "no chain" else nullcontext():
                        stores[store] = bootstrap.start(settings)
                services = {store: parts.service for store, parts in stores.items()}
                run_commands(services, size, samples[medium])
                for store, parts in stores.items():
                    recorder: Any = parts.application.recorder
                    links = len(recorder.select_links(0, 10**9))
                    events = recorder.max_notification_id()
                    assert links == (0 if store == "no chain" else events), (store, links)
            finally:
                for parts in stores.values():
                    parts.service.close()
                    if parts.settings.db is not None:
                        remove_store(parts.settings.db)
    return {
        medium: {
            store: {command: Stats(values) for command, values in by_command.items()}
            for store, by_command in by_store.items()
        }
        for medium, by_store in samples.items()
    }


def build_store(db: str, size: dict[str, int]) -> int:
    """A store of ``size["events"]`` events at ``db``. Each spec's events are saved in one
    transaction by the event store's application alone, then the read models are rebuilt
    from them at once (projected in step, each event would cost a durable commit). It is
    built in memory-backed files where there are some (/dev/shm), then copied to ``db``."""
    scratch = "/dev/shm" if os.path.isdir("/dev/shm") else os.path.dirname(db)
    with TemporaryDirectory(prefix="specsvc-bench-", dir=scratch) as directory:
        built = os.path.join(directory, os.path.basename(db))
        head = _fill(built, size)
        for source, target in zip(store_files(built), store_files(db), strict=True):
            copy_database(source, target)
    return head


def _fill(db: str, size: dict[str, int]) -> int:
    settings = Settings(db=db, startup_check_events=0)
    app = SpecApplication(env=bootstrap.env_for(settings))
    try:
        for n in range(size["events"] // size["per_spec"]):
            spec = Spec(f"bulk-{n:04d}", "generic", yaml_content(n, BULK_BYTES), ACTOR, "", None)
            for v in range(2, size["per_spec"] + 1):
                content = yaml_content(n * 1000 + v, BULK_BYTES)
                spec.update(content, actor=ACTOR, correlation_id=f"{n}-{v}", reason="load")
            app.save(spec)
        head = app.recorder.max_notification_id() or 0
    finally:
        app.close()
    store = bootstrap.start(settings, bootstrap.Role.MAINTENANCE)
    try:
        rebuild_read_models(store)
    finally:
        store.service.close()
    return head


def scan_log(application: SpecApplication) -> int:
    """The baseline: every notification read in pages, nothing checked."""
    after, count = 0, 0
    while page := application.recorder.select_notifications(after, 500, inclusive_of_start=False):
        count += len(page)
        after = page[-1].id
    return count


def measure_verify(db: str, size: dict[str, int]) -> dict[str, list[int]]:
    """Nanoseconds of each repeat of each operation on the store, interleaved."""
    samples: dict[str, list[int]] = {"scan": [], "walk": [], "verify": []}
    store = bootstrap.open_existing(Settings(db=db), bootstrap.Role.TOOL)
    try:
        app = store.application
        chain = app.recorder.chain  # type: ignore[attr-defined]
        calls: dict[str, Callable[[], Any]] = {
            "scan": partial(scan_log, app),
            "walk": partial(_walk, app, chain),
            "verify": partial(_verify, store),
        }
        for repeat in range(size["repeats"]):
            for name, call in calls.items():
                if name != "verify" or repeat < size["verify_repeats"]:
                    samples[name].append(timed(call))
    finally:
        store.service.close()
    return samples


def _walk(app: SpecApplication, chain: Any) -> None:
    problems, _ = walk_chain(app.recorder, chain)
    assert not problems, problems


def _verify(store: Any) -> None:
    report = verify_store(store)
    assert not report["differences"], report["differences"][:3]


def measure_startup(db: str, size: dict[str, int]) -> dict[str, list[int]]:
    """``check_chain_tail`` over the last T events and over 0, and opening the store with
    each setting; ``repeats`` * 3 rounds, each of all four."""
    samples: dict[str, list[int]] = {}
    for _ in range(size["repeats"] * 3):
        store = bootstrap.open_existing(Settings(db=db), bootstrap.Role.TOOL)
        try:
            for events in (0, size["tail"]):
                check = partial(bootstrap.check_chain_tail, store.application, events)
                samples.setdefault(f"check {events}", []).append(timed(check))
        finally:
            store.service.close()
        for events in (0, size["tail"]):
            settings = Settings(db=db, startup_check_events=events)
            samples.setdefault(f"open {events}", []).append(timed(partial(open_close, settings)))
    return samples


def open_close(settings: Settings) -> None:
    SpecService.open(settings=settings).close()


def median_ms(samples: Sequence[int]) -> float:
    return statistics.median(samples) / MS


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    size = QUICK if args.quick else FULL
    with temp_dir() as directory:
        key_file = write_key(directory)
        commands = measure_commands(directory, key_file, size)
        db = os.path.join(directory, "verify.db")
        events = build_store(db, size)
        verify = measure_verify(db, size)
        startup = measure_startup(db, size)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"bench_chain{' --quick' if args.quick else ''}: load average {load};"
        f" {size['specs']} specs of ~{SPEC_BYTES} B, {size['updates']} updates each,"
        f" {size['reads']} reads, {size['rounds']} round(s)"
    )
    report_commands(commands)
    report_verify(verify, events, size)
    report_startup(startup, size["tail"], events)
    return 0


def report_commands(results: dict[str, dict[str, dict[str, Stats]]]) -> None:
    rows = []
    for medium, by_store in results.items():
        for command in COMMANDS:
            base = by_store["no chain"][command]
            for store in STORES:
                stats = by_store[store][command]
                row = [medium, command, store, stats.n, stats.ops_per_s, stats.p50_us]
                rows.append([*row, stats.p99_us, stats.p50_us / base.p50_us])
    print_table(
        "Commands on SQLite, a file and in memory (microseconds);"
        " x none = p50 / p50 without the chain",
        ["sqlite", "command", "store", "n", "ops/s", "p50", "p99", "x none"],
        rows,
        left=3,
    )


def report_verify(samples: dict[str, list[int]], events: int, size: dict[str, int]) -> None:
    scan = median_ms(samples["scan"])
    rows = []
    for label, name in (
        ("scan (baseline)", "scan"),
        ("walk_chain", "walk"),
        ("verify_store", "verify"),
    ):
        ms = median_ms(samples[name])
        rows.append([label, ms, events / ms * 1000, ms / scan])
    print_table(
        f"verify on {events:,} events of ~{BULK_BYTES} B ({events // size['per_spec']} specs),"
        f" median of {size['repeats']} (verify_store: {size['verify_repeats']});"
        " x scan = time / reading the log unchecked",
        ["operation", "ms", "events/s", "x scan"],
        rows,
    )


def report_startup(samples: dict[str, list[int]], tail: int, events: int) -> None:
    rows = []
    for label, name in (("check_chain_tail", "check"), ("SpecService.open + close", "open")):
        base, checked = median_ms(samples[f"{name} 0"]), median_ms(samples[f"{name} {tail}"])
        rows += [[label, 0, base, 1.0], [label, min(tail, events), checked, checked / base]]
    print_table(
        f"Start-up check on that store (ms, median of {len(samples['check 0'])});"
        " x 0 = time / the same with 0 events checked",
        ["operation", "events checked", "ms", "x 0"],
        rows,
    )


if __name__ == "__main__":
    raise SystemExit(main())
