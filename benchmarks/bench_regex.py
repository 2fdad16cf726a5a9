"""RE2 memory and time per pattern, at RE2's default max_mem and at the service's.

    python -m benchmarks.bench_regex [--quick]

Compiles P DFA-hostile patterns (``[ab]*a[ab]{n}c``: no input matches, and every new
run of a and b is a new DFA state) and searches each once over N bytes of random a/b
text, in a fresh subprocess per setting, so each process's resident memory growth is
its own. The baseline is RE2's default ``max_mem`` (8 MiB); the other row is the
``MAX_MEM_PER_PATTERN`` of ``specsvc.spectypes.regex_rules``. ``x base`` divides by
the baseline's figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence

from benchmarks._common import parse_args, print_table
from specsvc.spectypes.regex_rules import MAX_MEM_PER_PATTERN

FULL = {"patterns": 14, "input": 60_000}
QUICK = {"patterns": 4, "input": 10_000}
DEFAULT_MAX_MEM = 8 << 20

PROBE = """
import json, os, random, sys, time
import re2
max_mem, patterns, size = (int(a) for a in sys.argv[1:])
def rss():
    for line in open(f"/proc/{os.getpid()}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) * 1024
rnd = random.Random(1)
text = "".join(rnd.choice("ab") for _ in range(size))
options = re2.Options(); options.log_errors = False; options.max_mem = max_mem
kept, before, started = [], rss(), time.perf_counter()
for i in range(patterns):
    a, b = "ab" if i % 2 else "ba"
    compiled = re2.compile(f"[{a}{b}]*{a}[{a}{b}]{{{14 + i // 2}}}c", options)
    compiled.search(text)
    kept.append(compiled)
seconds = time.perf_counter() - started
print(json.dumps({"bytes": rss() - before, "seconds": seconds}))
"""


def probe(max_mem: int, patterns: int, size: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(max_mem), str(patterns), str(size)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__ or "", argv)
    size = QUICK if args.quick else FULL
    rows = []
    base: dict[str, float] = {}
    settings = (("RE2 default (baseline)", DEFAULT_MAX_MEM), ("service", MAX_MEM_PER_PATTERN))
    for label, max_mem in settings:
        measured = probe(max_mem, size["patterns"], size["input"])
        base = base or measured
        per_pattern_kb = measured["bytes"] / size["patterns"] / 1024
        ms = measured["seconds"] / size["patterns"] * 1e3
        rows.append(
            [label, max_mem // 1024, per_pattern_kb, ms, measured["bytes"] / max(base["bytes"], 1),
             measured["seconds"] / base["seconds"]]
        )  # fmt: skip
    print(
        f"bench_regex{' --quick' if args.quick else ''}: {size['patterns']} DFA-hostile"
        f" patterns, one search each over {size['input']:,} bytes"
    )
    print_table(
        "x base = figure / the RE2 default's figure",
        ["max_mem", "KiB", "KiB kept/pattern", "ms/search", "x base memory", "x base time"],
        rows,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
