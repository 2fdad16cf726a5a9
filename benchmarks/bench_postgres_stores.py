"""Persistence modules of ``eventsourcing`` on one PostgreSQL server, against a commit floor.

    python -m benchmarks.bench_postgres_stores [--quick]

One ``eventsourcing`` application runs on each variant in the ``VARIANTS`` table. Its one
aggregate type, ``Document``, holds a ``content`` string of ~1.5 KB. The string is set at
creation and by one ``@event`` method, and the aggregate is snapshotted every 10 events
(``snapshotting_intervals``). The variants are:

- ``sqlalchemy``: ``eventsourcing_sqlalchemy``, ``SQLALCHEMY_URL=postgresql+psycopg://...``;
- ``core``: the library's own ``eventsourcing.postgres``, with the ``POSTGRES_*`` keys;
- ``specsvc``: the service's own factory (``specsvc.persistence.postgres``), which
  subclasses ``eventsourcing_sqlalchemy``'s recorders;
- ``topic``: only when ``SPECSVC_BENCH_PERSISTENCE_TOPIC`` is set. Its value (the topic of
  a module or of an infrastructure factory class) becomes ``PERSISTENCE_MODULE``, with the
  ``POSTGRES_*`` keys. This slot is for the service's own PostgreSQL factory.

Each variant gets a fresh database ``bench_x_<uuid>`` in every round. It is created
through the admin URL (``SPECSVC_BENCH_POSTGRES``, default
``postgresql://postgres@127.0.0.1:5432/test``) and dropped at the end, even on failure.
Timed with ``time.perf_counter_ns``:

- create: N new aggregates (N = 60, 10 with ``--quick``), each one event and one commit;
- update: a command as a service runs it (``repository.get`` -> ``edit`` -> ``save``),
  round robin over the N aggregates until aggregate i has E - 5 + i % 10 events (E = 50,
  20 with ``--quick``). So every phase of the snapshot cycle is reached equally often.
  Every 10th save also writes its snapshot, synchronously, so the figure includes the
  snapshot cost;
- get latest: ``repository.get(id)``, round robin over the N aggregates (~E events);
- get version=k: ``repository.get(id, version=k)`` for random (id, k). Every variant
  gets the same picks.

Variants run in 2 rounds (1 with ``--quick``).

The baseline is a bare psycopg INSERT + COMMIT of a ~1.5 KB row into a plain table in its
own fresh database: the cost floor of one durable write on this server. It is sampled
before and after the variants in every round, and its samples are pooled. The rounds
alternate the order of the variants, and their samples are pooled too, so drift on a
noisy machine affects each of them equally. ``x base`` = latency / baseline latency and
``x core`` = latency / the same measure on ``core``. The last line repeats each variant's
p50 ratio to ``core``: a median, because a stall elsewhere on the machine moves a mean.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL

from benchmarks._common import Stats, parse_args, print_table, prose_content, timed

ADMIN_URL_VARIABLE = "SPECSVC_BENCH_POSTGRES"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
TOPIC_VARIABLE = "SPECSVC_BENCH_PERSISTENCE_TOPIC"
CONTENT_BYTES = 1500
SNAPSHOT_INTERVAL = 10
FULL = {
    "aggregates": 60,
    "events": 50,
    "gets": 1000,
    "historical": 1000,
    "baseline": 1000,
    "rounds": 2,
}
QUICK = {
    "aggregates": 10,
    "events": 20,
    "gets": 150,
    "historical": 150,
    "baseline": 200,
    "rounds": 1,
}
WARM_UP_AGGREGATES = 3
WARM_UP_EVENTS = 12  # past one snapshot, so the snapshot paths are warm too
SEED = 20240601
MEASURES = ("create", "update", "get latest", "get version=k")
REFERENCE = "core"  # the "x core" columns divide by this variant's figures


@dataclass(frozen=True)
class Database:
    """One scratch database, in the forms the persistence modules take."""

    name: str
    host: str
    port: str
    user: str
    password: str

    def conninfo(self) -> str:
        return make_conninfo(
            dbname=self.name,
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
        )

    def sqlalchemy_url(self) -> str:
        socket = self.host.startswith("/")  # a Unix socket directory goes in the query
        url = URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password or None,
            host=None if socket else self.host,
            port=None if socket else int(self.port),
            database=self.name,
            query={"host": self.host, "port": self.port} if socket else {},
        )
        return url.render_as_string(hide_password=False)

    def postgres_keys(self) -> dict[str, str]:
        return {
            "POSTGRES_DBNAME": self.name,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": self.port,
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
        }


EnvFor = Callable[[Database], dict[str, str]]

# name -> the application's environment for a database. One line adds a variant.
VARIANTS: dict[str, EnvFor] = {
    "sqlalchemy": lambda db: {
        "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
        "SQLALCHEMY_URL": db.sqlalchemy_url(),
    },
    "core": lambda db: {"PERSISTENCE_MODULE": "eventsourcing.postgres", **db.postgres_keys()},
    # The service's own factory: eventsourcing_sqlalchemy subclassed (timeline, plain selects).
    "specsvc": lambda db: {
        "PERSISTENCE_MODULE": "specsvc.persistence.postgres.factory:Factory",
        "SQLALCHEMY_URL": db.sqlalchemy_url(),
    },
}


def variants(environ: Mapping[str, str]) -> dict[str, EnvFor]:
    """``VARIANTS``, plus ``topic`` when ``SPECSVC_BENCH_PERSISTENCE_TOPIC`` is set."""
    table = dict(VARIANTS)
    topic = environ.get(TOPIC_VARIABLE)
    if topic:
        table["topic"] = lambda db: {"PERSISTENCE_MODULE": topic, **db.postgres_keys()}
    return table


class Document(Aggregate):
    def __init__(self, content: str) -> None:
        self.content = content

    @event("Edited")
    def edit(self, content: str) -> None:
        self.content = content


class Documents(Application[UUID]):
    snapshotting_intervals = {Document: SNAPSHOT_INTERVAL}


@contextmanager
def fresh_database(admin: psycopg.Connection[Any]) -> Iterator[Database]:
    """A new, empty database on the admin connection's server, dropped on the way out."""
    name = f"bench_x_{uuid.uuid4().hex}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        info = admin.info
        yield Database(name, info.host, str(info.port), info.user, info.password or "")
    finally:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def commit_floor(connection: psycopg.Connection[Any], count: int) -> list[int]:
    """``count`` samples of one ~1.5 KB INSERT + COMMIT into the table ``floor``."""
    body = prose_content(0, CONTENT_BYTES)

    def write() -> None:
        connection.execute("INSERT INTO floor (body) VALUES (%s)", (body,))
        connection.commit()

    for _ in range(min(20, count)):  # warm up: connection, prepared statement, pages
        write()
    return [timed(write) for _ in range(count)]


def create(app: Documents, content: str, ids: list[UUID]) -> None:
    """One command: a new aggregate and its first event."""
    doc = Document(content)
    app.save(doc)
    ids.append(doc.id)


def update(app: Documents, doc_id: UUID, content: str) -> None:
    """One command: load the latest state, change it, save the new event."""
    doc = app.repository.get(doc_id)
    doc.edit(content)
    app.save(doc)


def warm_up(app: Documents) -> None:
    for i in range(WARM_UP_AGGREGATES):
        doc = Document(prose_content(-i - 1, CONTENT_BYTES))
        app.save(doc)
        for version in range(2, WARM_UP_EVENTS + 1):
            update(app, doc.id, prose_content(-version, CONTENT_BYTES))
        app.repository.get(doc.id)
        app.repository.get(doc.id, version=WARM_UP_EVENTS // 2)


def run_variant(
    env: dict[str, str], size: dict[str, int], seed: int, into: dict[str, list[int]]
) -> None:
    """Time every measure on one application; samples are appended to ``into``."""
    app = Documents(env=env)
    try:
        if app.snapshots is None:
            raise RuntimeError("the application was built without a snapshot store")
        warm_up(app)
        count = size["aggregates"]
        # Aggregate i ends with E - 5 + i % 10 events: every snapshot phase alike.
        targets = [
            size["events"] - SNAPSHOT_INTERVAL // 2 + i % SNAPSHOT_INTERVAL for i in range(count)
        ]
        ids: list[UUID] = []
        for i in range(count):
            content = prose_content(i, CONTENT_BYTES)
            into["create"].append(timed(partial(create, app, content, ids)))
        for version in range(2, max(targets) + 1):
            for i, doc_id in enumerate(ids):
                if version <= targets[i]:
                    content = prose_content(i * 1000 + version, CONTENT_BYTES)
                    into["update"].append(timed(partial(update, app, doc_id, content)))
        for j in range(size["gets"]):
            into["get latest"].append(timed(partial(app.repository.get, ids[j % count])))
        picks = random.Random(seed)
        for _ in range(size["historical"]):
            i = picks.randrange(count)
            get = partial(app.repository.get, ids[i], version=picks.randint(1, targets[i]))
            into["get version=k"].append(timed(get))
    finally:
        app.close()


def run_rounds(
    admin_url: str, size: dict[str, int], table: Mapping[str, EnvFor]
) -> tuple[dict[str, dict[str, Stats]], Stats, str]:
    """Every variant's stats by measure, the baseline's, and a line about the server."""
    samples: dict[str, dict[str, list[int]]] = {
        name: {measure: [] for measure in MEASURES} for name in table
    }
    floor: list[int] = []
    names = list(table)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        settings = {
            name: admin.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
            for name in ("server_version", "fsync", "synchronous_commit")
        }
        server = (
            f"PostgreSQL {settings['server_version'][0]} at {admin.info.host}:{admin.info.port}"
            f" (fsync={settings['fsync'][0]}, synchronous_commit="
            f"{settings['synchronous_commit'][0]})"
        )
        for round_ in range(size["rounds"]):
            with fresh_database(admin) as base, psycopg.connect(base.conninfo()) as connection:
                connection.execute("CREATE TABLE floor (id bigserial PRIMARY KEY, body text)")
                connection.commit()
                floor += commit_floor(connection, size["baseline"] // 2)
                for name in names if round_ % 2 == 0 else reversed(names):
                    with fresh_database(admin) as db:
                        run_variant(table[name](db), size, SEED + round_, samples[name])
                floor += commit_floor(connection, size["baseline"] // 2)
    stats = {
        name: {measure: Stats(values) for measure, values in by_measure.items()}
        for name, by_measure in samples.items()
    }
    return stats, Stats(floor), server


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(__doc__ or "", argv)
    size = QUICK if args.quick else FULL
    table = variants(os.environ)
    admin_url = os.environ.get(ADMIN_URL_VARIABLE) or DEFAULT_ADMIN_URL
    results, base, server = run_rounds(admin_url, size, table)
    print(
        f"bench_postgres_stores{' --quick' if args.quick else ''}: {server}; "
        f"{size['aggregates']} aggregates x ~{size['events']} events of ~{CONTENT_BYTES} "
        f"bytes, snapshot every {SNAPSHOT_INTERVAL}, fresh database per variant and round, "
        f"{size['rounds']} round(s); baseline = psycopg INSERT+COMMIT of a "
        f"~{CONTENT_BYTES}-byte row, {base.n} samples"
    )
    if "topic" in table:
        print(f"topic = {os.environ[TOPIC_VARIABLE]}")
    reference = results.get(REFERENCE)
    floor = [base.n, base.ops_per_s, base.mean_us, base.p50_us, base.p99_us, 1.0, 1.0]
    rows: list[list[object]] = [["baseline", "INSERT+COMMIT", *floor, "-", "-"]]
    for name, by_measure in results.items():
        for measure, stats in by_measure.items():
            ref = reference[measure] if reference else None
            rows.append(
                [
                    name,
                    measure,
                    stats.n,
                    stats.ops_per_s,
                    stats.mean_us,
                    stats.p50_us,
                    stats.p99_us,
                    stats.p50_us / base.p50_us,
                    stats.mean_us / base.mean_us,
                    stats.p50_us / ref.p50_us if ref else "-",
                    stats.mean_us / ref.mean_us if ref else "-",
                ]
            )
    print_table(
        f"latency in microseconds; x base = latency / baseline latency; x {REFERENCE} = "
        f"latency / the same measure on {REFERENCE}; update = get + edit + save",
        [
            "variant",
            "measure",
            "n",
            "ops/s",
            "mean",
            "p50",
            "p99",
            "p50 x base",
            "mean x base",
            f"p50 x {REFERENCE}",
            f"mean x {REFERENCE}",
        ],
        rows,
        left=2,
    )
    if reference:
        print()
        for name, by_measure in results.items():
            if name != REFERENCE:
                ratios = ", ".join(
                    f"{measure} {stats.p50_us / reference[measure].p50_us:.2f}"
                    for measure, stats in by_measure.items()
                )
                print(f"{name} / {REFERENCE}, p50 latency: {ratios}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
