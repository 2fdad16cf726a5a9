"""Reads with and without the Redis query cache, on one PostgreSQL store.

    python -m benchmarks.bench_cache [--quick]

A fresh database ``bench_cache_<uuid>`` is created through the admin URL
(``SPECSVC_BENCH_POSTGRES``, default ``postgresql://postgres@127.0.0.1:5432/test``) and
dropped at the end; a ``redis-server`` of this run's own listens on a free port in a
temporary folder (``SPECSVC_BENCH_REDIS`` names another Redis instead). The projection
worker runs in a thread, with the cache, and two API instances read the same store:
``cached`` (``--redis-url``) and ``uncached`` (without it).

N specs (N = 50, 10 with ``--quick``) of ~1.5 KB are created and published, so the
worker has written every entry before the timing starts. Each instance then reads, round
robin over the N specs, ``get_published`` (a read-model row), ``get_spec`` (the
aggregate from the event store: snapshot + later events) and ``GET
/v1/specs/{name}/published`` through the Flask application's test client (the whole
REST request handling, without a socket), R reads each (R = 2,000, 200
with ``--quick``), in 2 rounds (1 with ``--quick``) that alternate which instance goes
first; the samples of the rounds are pooled.

The baseline is the same read on the ``uncached`` instance: ``x uncached`` = latency /
the uncached latency of the same read (below 1 means the cache saves time). A bare
``GET`` of a ~1.5 KB value from the same Redis shows the floor of one cache round trip.
The last line gives the p50 ratio of each read.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import redis
from psycopg import sql

from benchmarks._common import ACTOR, Stats, parse_args, print_table, prose_content, temp_dir, timed
from rest_api import create_app
from specsvc import SpecService, bootstrap
from specsvc.config import Settings

ADMIN_URL_VARIABLE = "SPECSVC_BENCH_POSTGRES"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_VARIABLE = "SPECSVC_BENCH_REDIS"
FULL = {"specs": 50, "reads": 2000, "rounds": 2}
QUICK = {"specs": 10, "reads": 200, "rounds": 1}
READS = ("get_published", "get_spec", "REST published")


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    name = f"bench_cache_{uuid.uuid4().hex}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def redis_url() -> Iterator[str]:
    given = os.environ.get(REDIS_VARIABLE)
    if given:
        yield given
        return
    executable = shutil.which("redis-server")
    if executable is None:
        raise SystemExit(f"redis-server is not installed: set {REDIS_VARIABLE}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with temp_dir() as folder:
        server = subprocess.Popen(
            [executable, "--port", str(port), "--bind", "127.0.0.1", "--dir", folder,
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        try:
            client = redis.Redis.from_url(url)
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            client.close()
            yield url
        finally:
            server.terminate()
            server.wait(timeout=10)


@contextmanager
def instance(settings: Settings) -> Iterator[SpecService]:
    service = bootstrap.start(settings).service
    try:
        yield service
    finally:
        service.close()


def prepare(writer: SpecService, reader: SpecService, count: int) -> list[str]:
    """Write and publish the specs through ``writer``; return once ``reader`` reads each
    at its published position (from the entry the worker wrote, or read through)."""
    names = [f"bench-{i}" for i in range(count)]
    positions = {}
    for i, name in enumerate(names):
        writer.create_spec(name, "generic", prose_content(i), actor=ACTOR)
        positions[name] = writer.publish_spec(name, actor=ACTOR, reason="bench")["position"]
    for name in names:
        reader.get_published(name, min_position=positions[name])
        reader.get_spec(name, min_position=positions[name])
    return names


def readers(service: SpecService) -> dict[str, Callable[[str], Any]]:
    """The reads timed: two service calls, and one REST request through the whole Flask
    application (in this process, without a socket)."""
    client = create_app(service).test_client()

    def rest(name: str) -> None:
        response = client.get(f"/v1/specs/{name}/published")
        assert response.status_code == 200, response.status_code

    return {
        "get_published": service.get_published,
        "get_spec": service.get_spec,
        "REST published": rest,
    }


def sample(read: Callable[..., Any], names: list[str], reads: int) -> list[int]:
    taken = []
    for i in range(reads):
        name = names[i % len(names)]
        taken.append(timed(lambda: read(name)))  # noqa: B023 - called at once
    return taken


def redis_floor(url: str, reads: int) -> list[int]:
    client = redis.Redis.from_url(url)
    client.set("bench:floor", prose_content(0).encode())
    samples = [timed(lambda: client.get("bench:floor")) for _ in range(reads)]
    client.delete("bench:floor")
    client.close()
    return samples


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    sizes = QUICK if args.quick else FULL
    admin_url = os.environ.get(ADMIN_URL_VARIABLE, DEFAULT_ADMIN_URL)
    samples: dict[tuple[str, str], list[int]] = {}
    with fresh_database(admin_url) as database, redis_url() as cache_url:
        cached = Settings(database_url=database, redis_url=cache_url)
        worker = bootstrap.start_worker(cached)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:
            with instance(cached) as with_cache, instance(Settings(database_url=database)) as plain:
                names = prepare(plain, with_cache, sizes["specs"])
                services = {"cached": readers(with_cache), "uncached": readers(plain)}
                for read in READS:  # warm up: connections, caches of the library
                    for variant in services.values():
                        sample(variant[read], names, len(names))
                for round_ in range(sizes["rounds"]):
                    order = ["cached", "uncached"][:: -1 if round_ % 2 else 1]
                    for variant in order:
                        for read in READS:
                            taken = sample(services[variant][read], names, sizes["reads"])
                            samples.setdefault((variant, read), []).extend(taken)
                floor = redis_floor(cache_url, sizes["reads"])
        finally:
            worker.stop()
            thread.join(timeout=10)
            worker.close()
    rows = []
    ratios = []
    for read in READS:
        base = Stats(samples[("uncached", read)])
        for variant in ("uncached", "cached"):
            stats = Stats(samples[(variant, read)])
            rows.append(
                [
                    f"{read} {variant}",
                    stats.n,
                    stats.p50_us,
                    stats.p99_us,
                    stats.mean_us,
                    stats.p50_us / base.p50_us,
                    stats.p99_us / base.p99_us,
                ]
            )
        ratios.append(f"{read} {Stats(samples[('cached', read)]).p50_us / base.p50_us:.2f}x")
    bare = Stats(floor)
    rows.append(
        ["redis GET 1.5 KB (floor)", bare.n, bare.p50_us, bare.p99_us, bare.mean_us, "", ""]
    )
    print_table(
        f"Reads with and without the query cache ({sizes['specs']} specs of ~1.5 KB, µs)",
        ["read", "n", "p50", "p99", "mean", "p50 x uncached", "p99 x uncached"],
        rows,
    )
    print("\ncached p50 / uncached p50: " + ", ".join(ratios))


if __name__ == "__main__":
    main()
