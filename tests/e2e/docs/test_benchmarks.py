"""Every benchmark still runs (its --quick variant); figures are read by people, not asserted."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT

BENCHMARKS = sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py"))
# These need a PostgreSQL server (SPECSVC_BENCH_POSTGRES, or the one on 127.0.0.1:5432);
# bench_cache also starts a redis-server of its own and bench_scaled needs haproxy and
# wrk, so they run with the tests marked "system", not in the default run.
NEEDS_POSTGRES = ("bench_postgres_stores", "bench_cache", "bench_scaled", "bench_catchup")


def test_there_are_benchmarks() -> None:
    assert {
        "bench_commands",
        "bench_reads",
        "bench_snapshots",
        "bench_projections",
        "bench_chain",
    } <= set(BENCHMARKS)
    assert set(NEEDS_POSTGRES) <= set(BENCHMARKS)


@pytest.mark.parametrize("name", [n for n in BENCHMARKS if n not in NEEDS_POSTGRES])
def test_benchmark_runs_quick(name: str) -> None:
    _runs_quick(name)


@pytest.mark.system
@pytest.mark.parametrize("name", NEEDS_POSTGRES)
def test_postgres_benchmark_runs_quick(name: str) -> None:
    _runs_quick(name)


def _runs_quick(name: str) -> None:
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
