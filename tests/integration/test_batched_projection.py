"""The worker projects the events already waiting in batches, one transaction each.

A batch's read-model rows, its one tracking upsert (to its last position) and its one
announcement commit together or not at all; the upsert is refused when any position of
the batch is already projected, so projectors that overlap never apply an event twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from specsvc import SpecService, bootstrap
from specsvc.application import SpecApplication
from specsvc.config import Settings
from specsvc.operator import verify_projections
from specsvc.persistence import sql
from specsvc.persistence.interfaces import SharedReadModel
from specsvc.projections import SpecProjections
from specsvc.runners.worker import BatchingProjectionRunner, CountedProjections
from tests.support.stores import running_worker, scratch_database

pytestmark = pytest.mark.system

ACTOR = {"actor": "bob", "reason": "because"}
SPECS = 400  # three events each: created, updated, published
EVENTS = 3 * SPECS
CHANNEL = "specsvc_projected"  # specsvc/persistence/postgres/schema.py


@pytest.fixture(scope="module")
def written() -> Iterator[str]:
    """A template database holding EVENTS events and no projections yet."""
    with scratch_database(prefix="specsvc_batch_template") as url:
        with instance(url) as api:
            for i in range(SPECS):
                api.create_spec(f"spec-{i}", "generic", "a: 1\n", actor="alice")
                api.update_spec(f"spec-{i}", "a: 2\n", **ACTOR)
                api.publish_spec(f"spec-{i}", **ACTOR)
        yield url


@pytest.fixture
def url(written: str) -> Iterator[str]:
    """A copy of the written database, for one test to project."""
    admin = written.rsplit("/", 1)[0] + "/test"
    template = written.rsplit("/", 1)[1]
    with scratch_database(admin) as database:
        with psycopg.connect(admin, autocommit=True) as connection:
            name = database.rsplit("/", 1)[1]
            connection.execute(f"DROP DATABASE {name}")
            connection.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        yield database


@contextmanager
def instance(url: str) -> Iterator[SpecService]:
    started = bootstrap.start(Settings(database_url=url, consistency_timeout=1.0))
    try:
        yield started.service
    finally:
        started.service.close()


@contextmanager
def announcements(url: str) -> Iterator[list[int]]:
    """The positions announced on the projected channel while the block runs."""
    heard: list[int] = []
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"LISTEN {CHANNEL}")
        yield heard
        heard.extend(int(n.payload) for n in connection.notifies(timeout=0.5))


def tracked(url: str) -> int:
    """The position the tracking record holds."""
    projections = SpecProjections(env=bootstrap.env_for(Settings(database_url=url)))
    try:
        return projections.recorder.max_tracking_id(SpecApplication.name) or 0
    finally:
        projections.close()


def audited(url: str) -> list[int]:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT position FROM audit_log ORDER BY position")
        return [int(r[0]) for r in rows]


def eventually(check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def assert_equal_to_a_rebuild(url: str) -> None:
    assert audited(url) == list(range(1, EVENTS + 1))  # each event applied exactly once
    store = bootstrap.start(Settings(database_url=url), bootstrap.Role.TOOL)
    try:
        assert verify_projections(store) == {"equal": True, "differences": []}
    finally:
        store.service.close()


def test_a_worker_started_behind_catches_up_in_fewer_transactions_than_events(url: str) -> None:
    with announcements(url) as heard, running_worker(Settings(database_url=url)) as worker:
        eventually(lambda: worker.status()["position"] == EVENTS)  # type: ignore[attr-defined]
    assert heard[-1] == EVENTS
    assert heard == sorted(heard)
    assert len(heard) < EVENTS / 100, heard  # one announcement, one transaction, per batch
    assert_equal_to_a_rebuild(url)


def test_a_failure_mid_batch_rolls_the_whole_batch_back(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = threading.Event()
    failing.set()
    project = sql.projection

    def fail_at_700(row: Any, position: int) -> Any:
        if position == 700 and failing.is_set():
            raise RuntimeError("the disk is full")
        return project(row, position)

    monkeypatch.setattr(sql, "projection", fail_at_700)
    with running_worker(Settings(database_url=url)) as running:
        worker: Any = running
        eventually(lambda: worker.error == "the disk is full")
        time.sleep(1.5)  # a restart or two, failing again at the same batch
        position = tracked(url)
        assert 0 < position < 700
        assert audited(url) == list(range(1, position + 1))  # nothing of the failed batch
        failing.clear()
        eventually(lambda: worker.status()["position"] == EVENTS)
        assert worker.error is None
    assert_equal_to_a_rebuild(url)


def test_overlapping_batches_are_refused_whole(url: str) -> None:
    env = bootstrap.env_for(Settings(database_url=url))
    projections = SpecProjections(env=env)
    try:
        read_model = projections.recorder
        assert isinstance(read_model, SharedReadModel)
        leader = SpecApplication.name
        read_model.project_batch(leader, [(p, None) for p in range(1, 101)])
        with pytest.raises(IntegrityError):
            read_model.project_batch(leader, [(p, None) for p in range(50, 151)])
        with pytest.raises(IntegrityError):
            read_model.project_batch(leader, [(p, None) for p in range(100, 151)])
        assert projections.recorder.max_tracking_id(leader) == 100
        read_model.project_batch(leader, [(p, None) for p in range(101, 151)])
        assert projections.recorder.max_tracking_id(leader) == 150
        # A batch meant to follow a position goes in only if the record stands there.
        with pytest.raises(IntegrityError, match="projected to 150, not 149"):
            read_model.project_batch(leader, [(p, None) for p in range(151, 161)], after=149)
        read_model.project_batch(leader, [(p, None) for p in range(151, 161)], after=150)
        assert projections.recorder.max_tracking_id(leader) == 160
    finally:
        projections.close()


def test_two_batching_projectors_racing_apply_each_event_once(url: str) -> None:
    env = bootstrap.env_for(Settings(database_url=url))
    conflicts: list[IntegrityError] = []

    def project() -> None:
        while tracked(url) < EVENTS:
            try:
                with BatchingProjectionRunner(
                    application_class=SpecApplication,
                    projection_class=CountedProjections,
                    env=env,
                ) as runner:
                    runner.wait(EVENTS, timeout=60)
            except IntegrityError as error:
                conflicts.append(error)  # the other one projected a position first

    threads = [threading.Thread(target=project) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert tracked(url) == EVENTS
    assert_equal_to_a_rebuild(url)
