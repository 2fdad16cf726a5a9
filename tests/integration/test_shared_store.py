"""Several processes over one PostgreSQL store: API instances, the worker, its standby.

The instances here are started in one test process through the composition root, as
``specsvc serve`` starts them; each has its own connections, listener and positions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from specsvc import SpecService, bootstrap
from specsvc.application import SpecApplication
from specsvc.config import Settings
from specsvc.errors import BadRequest, Unavailable
from specsvc.operator import verify_projections
from specsvc.projections import SpecProjections
from specsvc.runners.worker import ProjectionWorker
from tests.support.stores import api_instance, make_spec, running_worker, scratch_database

pytestmark = pytest.mark.system

ACTOR = {"actor": "bob", "reason": "because"}


instance = api_instance


@contextmanager
def worker(url: str) -> Iterator[ProjectionWorker]:
    with running_worker(Settings(database_url=url)) as running:
        yield running  # type: ignore[misc]


def eventually(check: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.02)


def test_a_write_through_one_instance_is_read_through_another_at_its_position(url: str) -> None:
    with worker(url), instance(url) as a, instance(url) as b:
        written = make_spec(a, "alpha")
        assert b.list_specs(min_position=written["position"])["specs"][0]["name"] == "alpha"
        published = a.publish_spec("alpha", **ACTOR)
        served = b.get_published("alpha", min_position=published["position"])
        assert served["version"] == 1
        history = b.history("alpha", min_position=published["position"])["events"]
        assert [e["position"] for e in history] == [written["position"], published["position"]]


def test_an_instance_waits_for_the_last_position_it_acknowledged(url: str) -> None:
    with instance(url) as a, instance(url) as b:
        make_spec(a, "alpha")  # no worker yet: nothing is projected
        with pytest.raises(Unavailable) as raised:
            a.list_specs()
        assert raised.value.details["retry_after"] >= 1
        # B acknowledged nothing: it answers at once, from what is projected so far.
        assert b.list_specs()["specs"] == []
        # The event store is current everywhere, without waiting.
        assert b.get_spec("alpha")["version"] == 1
        with worker(url):
            assert [s["name"] for s in a.list_specs()["specs"]] == ["alpha"]


def test_a_minimum_position_the_log_has_not_reached_is_a_bad_request(url: str) -> None:
    with worker(url), instance(url) as a:
        written = make_spec(a, "alpha")
        with pytest.raises(BadRequest, match="past the last position"):
            a.list_specs(min_position=written["position"] + 1000)
        for bad in (-1, True, "3", 2.5):
            with pytest.raises(BadRequest, match="min_position"):
                a.list_specs(min_position=bad)  # type: ignore[arg-type]
            with pytest.raises(BadRequest, match="min_position"):
                a.get_spec("alpha", min_position=bad)  # type: ignore[arg-type]


def test_the_standby_takes_over_and_nothing_is_applied_twice(url: str) -> None:
    with instance(url) as api, ExitStack() as stack:
        first = stack.enter_context(worker(url))
        eventually(lambda: first.state == "active")
        second_stack = ExitStack()
        second = second_stack.enter_context(worker(url))
        eventually(lambda: second.state == "standby")
        positions = [make_spec(api, f"before-{i}")["position"] for i in range(5)]
        stack.close()  # the active worker stops
        eventually(lambda: second.state == "active")
        positions += [make_spec(api, f"after-{i}")["position"] for i in range(5)]
        events = api.list_events(min_position=positions[-1], limit=500)["events"]
        assert [e["position"] for e in events] == positions
        assert api.projection_status()["caught_up"] is True
        second_stack.close()


def test_two_projectors_racing_apply_each_event_once(url: str) -> None:
    with instance(url) as api:
        for i in range(20):
            make_spec(api, f"spec-{i}")
            api.update_spec(f"spec-{i}", "a: 2\n", **ACTOR)
    env = bootstrap.env_for(Settings(database_url=url))
    leader = SpecApplication(env=env)
    projectors = [SpecProjections(env=env) for _ in range(2)]
    conflicts = []

    def project(projections: SpecProjections) -> None:
        projections.follow(leader.name, leader.notification_log)
        while (projections.recorder.max_tracking_id(leader.name) or 0) < 40:
            try:
                projections.pull_and_process(leader.name)
            except IntegrityError:
                conflicts.append(1)  # the other one projected it first

    threads = [threading.Thread(target=project, args=(p,)) for p in projectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with instance(url) as api:
        events = api.list_events(limit=500)["events"]
        assert [e["position"] for e in events] == list(range(1, 41))
        store = bootstrap.start(Settings(database_url=url), bootstrap.Role.TOOL)
        try:
            assert verify_projections(store) == {"equal": True, "differences": []}
        finally:
            store.service.close()
    for projections in projectors:
        projections.close()
    leader.close()


def test_listeners_hear_what_the_worker_projects_for_another_instance(url: str) -> None:
    with worker(url), instance(url) as a, instance(url) as b:
        heard = threading.Event()
        b.on_projected(heard.set)
        written = make_spec(a, "alpha")
        assert heard.wait(5), "instance B was not told of the projection"
        assert b.projected_position() >= written["position"]


def test_status_names_the_worker_and_reports_its_absence(url: str) -> None:
    with instance(url) as api:
        with worker(url):
            make_spec(api, "alpha")
            status = api.projection_status()
            assert status["projector"] == "worker" and status["worker_running"] is True
            assert (status["caught_up"], status["lag"], status["error"]) == (True, 0, None)
        make_spec(api, "beta")
        status = api.projection_status()
        assert status["worker_running"] is False and status["caught_up"] is False
        assert status["lag"] == 1 and "no projection worker" in str(status["error"])


def test_a_worker_of_another_store_on_the_same_server_is_not_this_stores_worker(
    url: str,
) -> None:
    with scratch_database() as other, worker(other), instance(url) as api:
        make_spec(api, "alpha")
        status = api.projection_status()
        assert status["worker_running"] is False and status["caught_up"] is False


def test_a_store_that_could_lose_acknowledged_writes_is_refused(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")
    with pytest.raises(OperationalError, match="not durable"):
        bootstrap.start(Settings(database_url=url))
    with pytest.raises(OperationalError, match="not durable"):
        bootstrap.start_worker(Settings(database_url=url))


def test_python_importers_open_a_postgres_store_by_its_url(url: str) -> None:
    with worker(url), SpecService.open(database_url=url) as first:
        written = first.create_spec("by-url", "generic", "a: 1\n", **ACTOR)
        with SpecService.open(database_url=url) as second:
            listed = second.list_specs(min_position=written["position"])
            names = [spec["name"] for spec in listed["specs"]]
    assert names == ["by-url"]
