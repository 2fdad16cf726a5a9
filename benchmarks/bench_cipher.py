"""What encryption at rest costs: the same work on a plain and an encrypted SQLite store.

    python -m benchmarks.bench_cipher [--quick]

Two fresh stores on SQLite files, one plain (the baseline) and one with a
``--cipher-key-file`` (AES-256-GCM), each get S specs of ~1.5 KB (``prose_content``)
updated U times each, round robin, then published. Then each store answers R reads of
each kind on random specs: ``get_spec`` (the latest state: a snapshot and the events
after it, decrypted), ``get_published`` and ``get_spec(version=k)``'s content read from
the read models (decrypted by the service). The two stores run in rounds, alternating
which goes first, and samples are pooled, so drift on a noisy machine hits both alike.
``x base`` = the encrypted store's p50 / the plain store's p50.
"""

from __future__ import annotations

import base64
import os
import random
from collections.abc import Sequence
from functools import partial

from benchmarks._common import (
    ACTOR,
    Stats,
    parse_args,
    print_table,
    prose_content,
    remove_store,
    temp_dir,
    timed,
)
from specsvc import SpecService
from specsvc.config import Settings

FULL = {"specs": 20, "updates": 25, "reads": 1000, "rounds": 2}
QUICK = {"specs": 4, "updates": 4, "reads": 50, "rounds": 1}
KINDS = ("update", "get_spec", "get_published", "get_version")
SPEC_BYTES = 1500


def run_one(
    key_file: str | None, size: dict[str, int], db: str, into: dict[str, list[int]]
) -> None:
    names = [f"s{n}" for n in range(size["specs"])]
    with SpecService.open(settings=Settings(db=db, cipher_key_file=key_file)) as svc:
        for serial, name in enumerate(names):
            svc.create_spec(name, "generic", prose_content(serial, SPEC_BYTES), actor=ACTOR)
        for round_ in range(1, size["updates"]):
            for serial, name in enumerate(names):
                content = prose_content(serial * 1000 + round_, SPEC_BYTES)
                update = partial(svc.update_spec, name, content, actor=ACTOR, reason="edit")
                into["update"].append(timed(update))
        for name in names:
            svc.publish_spec(name, actor=ACTOR, reason="ship")
        svc.catch_up()
        picks = random.Random(20261206).choices(names, k=size["reads"])
        versions = random.Random(7).choices(range(1, size["updates"] + 1), k=size["reads"])
        into["get_spec"] += [timed(partial(svc.get_spec, name)) for name in picks]
        into["get_published"] += [timed(partial(svc.get_published, name)) for name in picks]
        into["get_version"] += [
            timed(partial(svc.get_version, name, version))
            for name, version in zip(picks, versions, strict=True)
        ]
    remove_store(db)


def measure(size: dict[str, int]) -> dict[str, dict[str, Stats]]:
    samples: dict[str, dict[str, list[int]]] = {
        label: {kind: [] for kind in KINDS} for label in ("plain", "encrypted")
    }
    with temp_dir() as directory:
        key_file = os.path.join(directory, "cipher.key")
        with open(key_file, "w") as file:
            file.write(base64.b64encode(os.urandom(32)).decode() + "\n")
        configs: Sequence[tuple[str, str | None]] = (("plain", None), ("encrypted", key_file))
        for round_ in range(size["rounds"]):
            for label, key in configs if round_ % 2 == 0 else reversed(configs):
                db = os.path.join(directory, f"{label}-{round_}.db")
                run_one(key, size, db, samples[label])
    return {
        label: {kind: Stats(values) for kind, values in by_kind.items()}
        for label, by_kind in samples.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    size = QUICK if args.quick else FULL
    results = measure(size)
    plain, encrypted = results["plain"], results["encrypted"]
    rows = [
        [
            kind,
            plain[kind].n,
            plain[kind].p50_us,
            encrypted[kind].p50_us,
            plain[kind].p99_us,
            encrypted[kind].p99_us,
            encrypted[kind].p50_us / plain[kind].p50_us,
        ]
        for kind in KINDS
    ]
    print_table(
        f"Encryption at rest on SQLite: {size['specs']} specs of ~{SPEC_BYTES} B,"
        f" {size['updates']} versions each, {size['rounds']} round(s); microseconds",
        ["operation", "n", "plain p50", "encrypted p50", "plain p99", "encrypted p99", "x base"],
        rows,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
