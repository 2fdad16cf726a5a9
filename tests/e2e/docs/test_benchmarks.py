"""Every benchmark still runs (its --quick variant); figures are read by people, not asserted."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT

BENCHMARKS = sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py"))


def test_there_are_benchmarks() -> None:
    assert {"bench_commands", "bench_reads", "bench_snapshots", "bench_projections"} <= set(
        BENCHMARKS
    )


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_runs_quick(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "x" in done.stdout and len(done.stdout.splitlines()) >= 3
