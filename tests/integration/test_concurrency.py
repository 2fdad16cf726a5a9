"""Racing writers never both win: threads in one process, and two processes on one file."""

from __future__ import annotations

import fcntl
import itertools
import multiprocessing
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from specsvc import SpecService, bootstrap
from specsvc.config import Settings
from specsvc.errors import SpecAlreadyExists, SpecServiceError, Unavailable, VersionMismatch
from specsvc.operator import verify_projections
from tests.support.stores import make_spec

THREADS = 8


def race(target: Callable[[int], object]) -> list[object]:
    """Run ``target(i)`` in THREADS threads released together; collect results or errors."""
    barrier = threading.Barrier(THREADS)
    results: list[object] = [None] * THREADS

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except SpecServiceError as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def assert_gapless(svc: SpecService, name: str, versions: int) -> None:
    assert [v["version"] for v in svc.list_versions(name)["versions"]] == list(
        range(1, versions + 1)
    )
    assert [e["sequence"] for e in svc.history(name)["events"]] == list(
        range(1, len(svc.history(name)["events"]) + 1)
    )
    assert svc.get_spec(name)["version"] == versions


def test_expected_version_lets_exactly_one_racer_win(service: SpecService) -> None:
    make_spec(service)
    results = race(
        lambda i: service.update_spec(
            "demo", f"a: {i + 10}\n", actor=f"w{i}", reason="race", expected_version=1
        )
    )
    winners = [r for r in results if isinstance(r, dict)]
    assert len(winners) == 1
    assert all(isinstance(r, VersionMismatch) for r in results if r not in winners)
    assert_gapless(service, "demo", 2)


def test_without_expected_version_every_update_is_reapplied(service: SpecService) -> None:
    make_spec(service)

    def writer(i: int) -> None:
        for n in range(5):
            service.update_spec("demo", f"w{i}: {n}\n", actor=f"w{i}", reason="race")

    assert race(writer) == [None] * THREADS
    assert_gapless(service, "demo", 1 + THREADS * 5)


def test_racing_creates_of_one_name(service: SpecService) -> None:
    results = race(lambda i: make_spec(service, content=f"a: {i}\n"))
    assert sum(isinstance(r, dict) for r in results) == 1
    assert sum(isinstance(r, SpecAlreadyExists) for r in results) == THREADS - 1
    assert len(service.history("demo")["events"]) == 1


def test_racing_publish_and_deprecate_stay_consistent(service: SpecService) -> None:
    make_spec(service)
    service.publish_spec("demo", actor="p", reason="go")
    results = race(
        lambda i: (service.deprecate_spec if i % 2 else service.publish_spec)(
            "demo", actor=f"p{i}", reason="flip"
        )
    )
    assert all(isinstance(r, dict) for r in results)
    changes = [e for e in service.history("demo")["events"] if e["event"] == "SpecStateChanged"]
    for before, after in itertools.pairwise(changes):
        assert after["from_state"] == before["to_state"] != after["to_state"]
    assert service.get_spec("demo")["state"] == changes[-1]["to_state"]


def _process_writer(db: str, worker: int, updates: int, ready: object) -> None:
    svc = SpecService.open(settings=Settings(db=db))
    ready.wait()  # type: ignore[attr-defined]
    for n in range(updates):
        svc.update_spec("shared", f"p{worker}: {n}\n", actor=f"proc{worker}", reason="race")
    svc.close()


def test_two_processes_on_one_sqlite_file(tmp_path: Path) -> None:
    db = str(tmp_path / "specs.db")
    with SpecService.open(settings=Settings(db=db)) as svc:
        make_spec(svc, "shared")
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(2)
    updates = 40
    workers = [
        context.Process(target=_process_writer, args=(db, w, updates, ready)) for w in range(2)
    ]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
    assert [p.exitcode for p in workers] == [0, 0]
    store = bootstrap.start(Settings(db=db))
    with store.service as svc:
        assert_gapless(svc, "shared", 1 + 2 * updates)
        authors = {v["created_by"] for v in svc.list_versions("shared")["versions"]}
        assert authors == {"alice", "proc0", "proc1"}
        assert verify_projections(store)["equal"] is True


def test_a_writer_kept_waiting_past_the_lock_timeout_is_unavailable_and_writes_nothing(
    tmp_path: Path,
) -> None:
    with SpecService.open(
        settings=Settings(db=str(tmp_path / "s.db"), sqlite_lock_timeout=1)
    ) as svc:
        make_spec(svc, "held")
        datastore = svc._app.recorder.datastore  # type: ignore[attr-defined]
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:  # another writer of this process, in a long transaction
            with datastore.transaction(commit=True):
                holding.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert holding.wait(10)
            with pytest.raises(Unavailable, match="locked"):
                svc.update_spec("held", "a: 2\n", actor="alice", reason="waits")
        finally:
            release.set()
            holder.join()
        assert svc.get_spec("held")["version"] == 1  # nothing was written
        # Writers queue on the lock: each gets its turn as soon as the one before commits.
        results = race(
            lambda i: svc.update_spec("held", f"a: {i + 10}\n", actor="alice", reason="turn")
        )
        assert not [r for r in results if isinstance(r, SpecServiceError)]
        assert_gapless(svc, "held", 1 + THREADS)


def test_a_spec_kept_by_one_process_is_brought_forward_by_what_another_wrote(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "s.db")
    with SpecService.open(settings=Settings(db=db)) as first:
        make_spec(first, "kept")
        first.update_spec("kept", "a: 2\n", actor="alice", reason="two")  # kept from here
        with SpecService.open(settings=Settings(db=db)) as second:
            second.update_spec("kept", "a: 3\n", actor="bob", reason="three")
            second.publish_spec("kept", actor="bob", reason="ship", version=3)
        # The first process's next command starts from the state the other one left.
        changed = first.update_spec(
            "kept", "a: 4\n", actor="alice", reason="four", expected_version=3
        )
        assert (changed["version"], changed["published_version"], changed["revision"]) == (
            4,
            3,
            5,
        )
        with pytest.raises(VersionMismatch):  # and a stale expectation is refused
            first.update_spec("kept", "a: 5\n", actor="alice", reason="x", expected_version=3)
        assert first.get_spec("kept")["content"] == "a: 4\n"
        assert_gapless(first, "kept", 4)


def test_writers_of_different_processes_take_turns_on_a_lock_file_beside_the_store(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    settings = Settings(db=str(db), sqlite_lock_timeout=1)
    with SpecService.open(settings=settings) as svc:
        make_spec(svc, "turns")
        turn = tmp_path / "s.db-writer"
        assert turn.exists()
        with open(turn, "rb") as held:  # another process's writer, holding its turn
            fcntl.flock(held, fcntl.LOCK_EX)
            with pytest.raises(Unavailable, match="another process"):
                svc.update_spec("turns", "a: 2\n", actor="alice", reason="waits")
            fcntl.flock(held, fcntl.LOCK_UN)
        assert svc.update_spec("turns", "a: 2\n", actor="alice", reason="turn")["version"] == 2
        assert_gapless(svc, "turns", 2)


def test_a_kept_spec_advances_with_this_process_s_own_writes_without_reading_them_back(
    file_service: SpecService, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_spec(file_service, "own")
    file_service.get_spec("own")  # read from the store, links checked: kept from here
    app = file_service._app
    decoded: list[object] = []
    original = app.mapper.to_domain_event
    monkeypatch.setattr(
        app.mapper, "to_domain_event", lambda stored: decoded.append(stored) or original(stored)
    )
    for n in range(2, 5):
        assert (
            file_service.update_spec("own", f"a: {n}\n", actor="alice", reason="r")["version"] == n
        )
    assert decoded == []  # each command started from the state the one before it saved
    assert file_service.get_spec("own")["content"] == "a: 4\n"
    assert_gapless(file_service, "own", 4)
