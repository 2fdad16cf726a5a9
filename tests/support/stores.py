"""Stores for tests, started through the composition root as every entry point does."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import pytest

from specsvc import SpecService, bootstrap
from specsvc.config import Settings

# Every persistence setting the code supports; the service-layer scenarios run on each.
# PostgreSQL needs the server (and the postgres extra): "pytest -m system" runs it.
BACKENDS = ["memory", "sqlite-file", pytest.param("postgres", marks=pytest.mark.system)]
# The one backend the adapter suites run on: what they test is the adapter, not the store.
ADAPTER_BACKEND = "sqlite-file"
# A database the tests may create others from (trust authentication, as on CI).
ADMIN_URL = os.environ.get("SPECSVC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

RULES = "rule: {field: email, matches: '@example\\.com$'}\n"


def open_store(kind: str, folder: Path, **overrides: object) -> bootstrap.Components:
    """A started embedded store and its parts (``memory`` or ``sqlite-file``)."""
    db = None if kind == "memory" else str(folder / "specs.db")
    return bootstrap.start(Settings(db=db, **overrides))  # type: ignore[arg-type]


@contextmanager
def started_store(kind: str, folder: Path, **overrides: object) -> Iterator[bootstrap.Components]:
    """A started store of any backend; on PostgreSQL a database of its own and a
    projection worker, all removed afterwards."""
    if kind != "postgres":
        started = open_store(kind, folder, **overrides)
        try:
            yield started
        finally:
            started.service.close()
        return
    with scratch_database() as url:
        settings = Settings(database_url=url, **overrides)  # type: ignore[arg-type]
        with running_worker(settings):
            started = bootstrap.start(settings)
            try:
                yield started
            finally:
                started.service.close()


@contextmanager
def scratch_database(admin_url: str = ADMIN_URL, prefix: str = "specsvc_test") -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database (created through ``admin_url``),
    dropped afterwards."""
    import psycopg

    name = f"{prefix}_{uuid4().hex[:16]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def running_worker(settings: Settings) -> Iterator[object]:
    """``specsvc project``'s worker for ``settings``, in a thread of this process."""
    worker = bootstrap.start_worker(settings)
    thread = threading.Thread(target=worker.run, name="test-projection-worker", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(timeout=10)
        worker.close()


@contextmanager
def api_instance(url: str, **overrides: object) -> Iterator[SpecService]:
    """An API instance of the PostgreSQL store at ``url``, as ``specsvc serve`` starts
    one: no projections of its own; reads wait at most a second for a position."""
    settings = Settings(database_url=url, consistency_timeout=1.0, **overrides)  # type: ignore[arg-type]
    started = bootstrap.start(settings)
    try:
        yield started.service
    finally:
        started.service.close()


def open_service(kind: str, folder: Path, **overrides: object) -> SpecService:
    return open_store(kind, folder, **overrides).service


def make_spec(svc: SpecService, name: str = "demo", content: str = "a: 1\n", **kw: object) -> dict:
    return svc.create_spec(name, kw.pop("type", "generic"), content, actor="alice", **kw)


def event_count(svc: SpecService) -> int:
    """The size of the global audit log, paging 500 at a time."""
    total, after = 0, 0
    while True:
        page = svc.list_events(after=after, limit=500)
        total += len(page["events"])
        if len(page["events"]) < 500:
            return total
        after = page["next_after"]
