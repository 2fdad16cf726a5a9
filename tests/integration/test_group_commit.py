"""Group commit: writes that arrive while another commits are committed together, each
answered with its own outcome, and only once the group's commit is on disk."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from specsvc import bootstrap
from specsvc.config import Settings
from specsvc.operator import verify_projections, verify_store
from specsvc.persistence.sqlite.datastore import DurableDatastore
from tests.integration.test_concurrency import assert_gapless
from tests.support.stores import make_spec

WAITING = 4


@pytest.fixture
def datastore(tmp_path: Path) -> Iterator[DurableDatastore]:
    store = DurableDatastore(str(tmp_path / "g.db"), lock_timeout=2)
    with store.transaction(commit=True) as c:
        c.execute("CREATE TABLE kept (k TEXT PRIMARY KEY)")
    yield store
    store.close()


def insert(*keys: str) -> Callable[[Any], str]:
    def write(c: Any) -> str:
        for key in keys:
            c.execute("INSERT INTO kept VALUES (?)", (key,))
        return keys[-1]

    return write


def on_disk(store: DurableDatastore) -> set[str]:
    """The rows another connection reads: what was committed."""
    with sqlite3.connect(store.pool.db_name) as other:
        return {row[0] for row in other.execute("SELECT k FROM kept")}


def counted_transactions(store: DurableDatastore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    opened: list[int] = []
    original = store.transaction

    def counting(*, commit: bool, durable: bool = True) -> Any:
        if commit:
            opened.append(1)
        return original(commit=commit, durable=durable)

    monkeypatch.setattr(store, "transaction", counting)
    return opened


class Writers:
    """A first write that holds the commit until released, then ``WAITING`` writes that
    queue behind it; each writer notes its answer, or its error, and what was on disk
    as it got it."""

    def __init__(self, store: DurableDatastore) -> None:
        self.store = store
        self.inside, self.release = threading.Event(), threading.Event()
        self.answers: dict[str, Any] = {}
        self.seen: dict[str, set[str]] = {}
        self.threads: list[threading.Thread] = []

    def _run(self, name: str, write: Callable[[Any], Any]) -> None:
        try:
            self.answers[name] = self.store.grouped(write)
        except Exception as error:
            self.answers[name] = error
        self.seen[name] = on_disk(self.store)

    def start(self, name: str, write: Callable[[Any], Any]) -> None:
        thread = threading.Thread(target=self._run, args=(name, write))
        thread.start()
        self.threads.append(thread)

    def hold_first(self) -> None:
        def held(c: Any) -> str:
            c.execute("INSERT INTO kept VALUES ('first')")
            self.inside.set()
            assert self.release.wait(10)
            return "first"

        self.start("first", held)
        assert self.inside.wait(10)

    def queued(self, count: int) -> None:
        deadline = time.monotonic() + 10
        while len(self.store._queued) < count:
            assert time.monotonic() < deadline, "the writers never queued"
            time.sleep(0.001)

    def finish(self) -> None:
        self.release.set()
        for thread in self.threads:
            thread.join(10)
        assert not any(thread.is_alive() for thread in self.threads)


def test_writes_that_arrive_during_a_commit_are_committed_together_and_answered_after_it(
    datastore: DurableDatastore, monkeypatch: pytest.MonkeyPatch
) -> None:
    transactions = counted_transactions(datastore, monkeypatch)
    writers = Writers(datastore)
    writers.hold_first()
    for n in range(WAITING):
        writers.start(f"w{n}", insert(f"w{n}"))
    writers.queued(WAITING)
    assert on_disk(datastore) == set()
    writers.finish()
    assert writers.answers == {"first": "first", **{f"w{n}": f"w{n}" for n in range(WAITING)}}
    assert len(transactions) == 2  # the first alone, then the four that waited, together
    for name, seen in writers.seen.items():
        assert name in seen  # nobody was answered before its write was committed
    assert on_disk(datastore) == {"first", *(f"w{n}" for n in range(WAITING))}


def test_a_write_that_fails_in_a_group_rolls_back_alone_and_only_its_writer_sees_the_error(
    datastore: DurableDatastore,
) -> None:
    writers = Writers(datastore)
    writers.hold_first()
    writers.start("before", insert("before"))
    writers.start("clash", insert("partial", "first"))  # its second row is taken
    writers.start("after", insert("after"))
    writers.queued(3)
    writers.finish()
    assert isinstance(writers.answers.pop("clash"), IntegrityError)
    assert writers.answers == {"first": "first", "before": "before", "after": "after"}
    assert on_disk(datastore) == {"first", "before", "after"}  # no "partial"


def test_writers_kept_waiting_past_the_lock_timeout_fail_and_write_nothing(
    tmp_path: Path,
) -> None:
    store = DurableDatastore(str(tmp_path / "t.db"), lock_timeout=1)
    try:
        with store.transaction(commit=True) as c:
            c.execute("CREATE TABLE kept (k TEXT PRIMARY KEY)")
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:  # a write of this process outside any group: a long one
            with store.transaction(commit=True):
                holding.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        assert holding.wait(10)
        writers = Writers(store)
        for n in range(3):
            writers.start(f"w{n}", insert(f"w{n}"))
        for thread in writers.threads:
            thread.join(10)
        release.set()
        holder.join(10)
        assert all(isinstance(a, OperationalError) for a in writers.answers.values())
        assert len(writers.answers) == 3
        assert on_disk(store) == set()
        assert store.grouped(insert("later")) == "later"  # and the next write goes through
        assert on_disk(store) == {"later"}
    finally:
        store.close()


def test_concurrent_commands_in_groups_leave_a_gapless_log_whose_chain_verifies(
    tmp_path: Path,
) -> None:
    store = bootstrap.start(Settings(db=str(tmp_path / "s.db")))
    svc = store.service
    try:
        names = [f"spec-{n}" for n in range(6)]
        for name in names:
            make_spec(svc, name)
        updates = 15

        def update(name: str) -> None:
            for n in range(2, updates + 2):
                svc.update_spec(name, f"a: {n}\n", actor="alice", reason="grouped")

        threads = [threading.Thread(target=update, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for name in names:
            assert_gapless(svc, name, updates + 1)
            assert svc.get_spec(name)["content"] == f"a: {updates + 1}\n"
        positions = [e["position"] for e in svc.list_events(limit=500)["events"]]
        assert positions == list(range(1, len(positions) + 1))
        assert verify_store(store)["differences"] == []
        assert verify_projections(store)["equal"] is True
    finally:
        svc.close()
