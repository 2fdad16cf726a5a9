"""The scaled topology of deploy/compose.yaml as real processes, end to end.

A SQLite store with a history, moved by ``specsvc migrate`` into a scratch PostgreSQL
database; two ``specsvc serve`` instances on that database, a ``specsvc project`` worker
and its standby, a Redis query cache of the module's own, and HAProxy
(deploy/haproxy.cfg) in front of both instances. Clients go through the balancer unless
a test is about one instance. One topology serves the module's tests in each test
process (pytest-xdist may split the module); each test writes specs of its own, and the
last one checks whatever the store holds by then against a rebuild.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from grpc_api.protos.specsvc.v1 import spec_service_pb2_grpc as rpc
from specsvc import SpecService
from tests.support.histories import lifecycle
from tests.support.processes import running
from tests.support.redis_servers import RedisServer, redis_server
from tests.support.stores import scratch_database
from tests.support.topology import Topology, eventually, request, run_tool, running_topology

pytestmark = [pytest.mark.system, pytest.mark.slow]

WAIT = 30.0  # only stops a broken build from hanging; never a performance bound
RETRIED = {502, 503, 504}  # the balancer had no ready instance, or one went away


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SQLite store the topology's database is copied from: a whole lifecycle."""
    db = tmp_path_factory.mktemp("embedded") / "specs.db"
    with SpecService.open(str(db)) as svc:
        lifecycle(svc)
    return db


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def topology(migrated: Path, redis: RedisServer) -> Iterator[Topology]:
    with scratch_database() as url:
        # As an operator moves an embedded store: copied (and verified) before the
        # instances and workers start on it.
        copied = run_tool("migrate", "--from", str(migrated), "--to", url)
        assert copied.returncode == 0, copied.stdout + copied.stderr
        with running_topology(url, redis_url=redis.url) as topology:
            yield topology


def write(base: str, method: str, path: str, body: Any, key: str | None = None) -> dict:
    """One acknowledged write; a refused or lost attempt is repeated with the same
    Idempotency-Key, so it is applied once whatever happened to the first attempt."""
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    deadline = time.monotonic() + WAIT
    while True:
        try:
            status, _, answer = request(base + path, method, body, headers)
        except OSError:
            status, answer = 0, None
        if status in (200, 201):
            return answer
        assert status in (0, *RETRIED) and time.monotonic() < deadline, (status, answer)
        time.sleep(0.1)


def create(base: str, name: str, content: str = "a: 1\n") -> dict:
    return write(base, "POST", "/v1/specs", {"name": name, "type": "generic", "content": content})


def update(base: str, name: str, content: str) -> dict:
    return write(base, "PUT", f"/v1/specs/{name}/content", {"content": content, "reason": "load"})


def read(base: str, path: str, position: int | None = None) -> Any:
    headers = {} if position is None else {"X-Min-Position": str(position)}
    status, _, answer = request(base + path, headers=headers)
    assert status == 200, (status, answer)
    return answer


def counted(base: str, metric: str) -> float:
    """One of the instance's counters, all labels summed (from /metrics)."""
    status, _, text = request(base + "/metrics")
    assert status == 200
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((metric + "{", metric + " "))
    )


def requests_served(base: str) -> float:
    return counted(base, "specsvc_requests_total")


def cache_states(topology: Topology) -> list[str]:
    """The query cache's state as each instance's /readyz and the active worker's
    health endpoint report it (whether or not they are ready)."""
    states = [request(api.rest + "/readyz")[2]["cache"]["state"] for api in topology.apis]
    active = [w for w in topology.workers if w.process.alive() and w.state() == "active"]
    return states + [w.readiness()["worker"]["cache"]["state"] for w in active]


def comparable(status: int, body: Any) -> tuple[int, Any]:
    # Each answer's own correlation id is new; what the events carry is compared.
    if isinstance(body, dict):
        body = {key: value for key, value in body.items() if key != "correlation_id"}
    return status, body


def hammer(
    base: str, names: list[str], writers: int, updates: int, stop: threading.Event | None = None
) -> list[dict]:
    """``writers`` threads racing ``updates`` updates each over ``names`` (several on the
    same spec at once); every acknowledgement, with what was written."""
    acknowledged: list[dict] = []
    lock = threading.Lock()
    failures: list[BaseException] = []

    def run(writer: int) -> None:
        pick = random.Random(writer)
        try:
            for n in range(updates):
                if stop is not None and stop.is_set():
                    return
                name = pick.choice(names)
                content = f"writer: {writer}\nn: {n}\n"
                answer = update(base, name, content)
                with lock:
                    acknowledged.append({**answer, "written": content})
        except BaseException as error:  # reported by the caller's thread
            failures.append(error)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures[0]
    return acknowledged


def assert_histories_exact(
    base: str, created: dict[str, dict], acked: list[dict], others: list[dict] | None = None
) -> None:
    """Each spec's versions are 1..n without a gap or a repeat, one per acknowledged
    write, each holding what that write sent; its history holds those writes and the
    ``others`` (acknowledged writes that make no version), each once."""
    head = max([a["position"] for a in acked] + [c["position"] for c in created.values()])
    by_spec: dict[str, list[dict]] = defaultdict(list)
    for answer in acked:
        by_spec[answer["name"]].append(answer)
    for name, first in created.items():
        versions = read(base, f"/v1/specs/{name}/versions", head)["versions"]
        numbers = [v["version"] for v in versions]
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), name
        mine = by_spec[name]
        assert len(numbers) == 1 + len(mine), name
        assert sorted(a["version"] for a in mine) == list(range(2, len(numbers) + 1)), name
        for answer in mine:
            served = read(base, f"/v1/specs/{name}/versions/{answer['version']}", head)
            assert served["content"] == answer["written"], (name, answer["version"])
        history = read(base, f"/v1/specs/{name}/history", head)["events"]
        also = [a["position"] for a in others or () if a["name"] == name]
        expected = sorted([first["position"], *also, *(a["position"] for a in mine)])
        assert [e["position"] for e in history] == expected, name


def test_haproxy_reaches_both_instances_and_each_is_ready(topology: Topology) -> None:
    for api in topology.apis:
        assert read(api.rest, "/readyz")["projections"]["projector"] == "worker"
    before = [requests_served(api.rest) for api in topology.apis]
    for _ in range(10):
        read(topology.rest, "/readyz")
    after = [requests_served(api.rest) for api in topology.apis]
    # round robin: each instance answered about half (its own /metrics call counts too)
    assert all(a - b >= 4 for a, b in zip(after, before, strict=True)), (before, after)


def test_concurrent_writers_through_both_instances_lose_and_double_nothing(
    topology: Topology,
) -> None:
    names = [f"race-{n}" for n in range(4)]
    created = {name: create(topology.rest, name) for name in names}
    before = [requests_served(api.rest) for api in topology.apis]
    acked = hammer(topology.rest, names, writers=6, updates=15)
    after = [requests_served(api.rest) for api in topology.apis]
    assert len(acked) == 6 * 15
    assert all(a - b >= 20 for a, b in zip(after, before, strict=True)), (before, after)
    positions = [a["position"] for a in acked]
    assert len(set(positions)) == len(positions)
    assert_histories_exact(topology.rest, created, acked)


def test_reads_through_either_instance_with_and_without_a_minimum_position(
    topology: Topology,
) -> None:
    a, b = topology.apis
    for writer, reader in ((a, b), (b, a)):
        name = f"ryw-{writer.process.name}"
        created = create(writer.rest, name)
        for base in (reader.rest, topology.rest):
            got = read(base, f"/v1/specs/{name}", created["position"])
            assert got["version"] == 1
            listed = read(base, f"/v1/specs?name_prefix={name}", created["position"])
            assert [s["name"] for s in listed["specs"]] == [name]
        changed = update(writer.rest, name, "a: 2\n")
        # Without X-Min-Position the answer is whatever is projected so far: eventually
        # the new version, through the balancer and straight from the other instance.
        for base in (reader.rest, topology.rest):
            path = f"/v1/specs/{name}"
            eventually(lambda b=base, p=path: read(b, p)["version"] == 2, "seen")
        assert read(topology.rest, f"/v1/specs/{name}/history", changed["position"])["events"]


def test_a_position_beyond_the_log_is_refused_through_the_balancer(
    topology: Topology,
) -> None:
    status, _, answer = request(topology.rest + "/v1/specs", headers={"X-Min-Position": "10000000"})
    assert status == 400, answer


def test_a_watcher_on_one_instance_sees_every_write_made_through_the_other_once_in_order(
    topology: Topology,
) -> None:
    a, b = topology.apis
    channel = grpc.insecure_channel(b.grpc)
    try:
        stub = rpc.SpecServiceStub(channel)
        call = stub.WatchEvents(pb.WatchEventsRequest(names=["watched"]), timeout=WAIT)
        seen: list[pb.Event] = []
        done = threading.Event()

        def follow() -> None:
            try:
                for event in call:
                    seen.append(event)
                    if len(seen) >= 11:
                        done.set()
            except grpc.RpcError:
                done.set()

        threading.Thread(target=follow, daemon=True).start()
        time.sleep(0.5)  # the stream is open before the first write ("from now")
        written = [create(a.rest, "watched")["position"]]
        for n in range(10):
            written.append(update(a.rest, "watched", f"n: {n}\n")["position"])
        assert done.wait(WAIT), [e.position for e in seen]
        call.cancel()
        assert [e.position for e in seen] == written
        assert [e.event for e in seen] == ["SpecCreated"] + ["SpecUpdated"] * 10
    finally:
        channel.close()


def test_grpc_calls_go_through_the_balancer(topology: Topology) -> None:
    channel = grpc.insecure_channel(topology.grpc)
    try:
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=WAIT
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        stub = rpc.SpecServiceStub(channel)
        created = stub.CreateSpec(
            pb.CreateSpecRequest(name="over-grpc", type="generic", content="g: 1\n"),
            timeout=WAIT,
        )
        for n in range(4):  # round robin: both instances answer, each at the position
            got = stub.GetSpec(
                pb.GetSpecRequest(name="over-grpc"),
                metadata=[("x-min-position", str(created.position))],
                timeout=WAIT,
            )
            assert (got.name, got.version) == ("over-grpc", 1), n
    finally:
        channel.close()
    assert read(topology.rest, "/v1/specs/over-grpc", created.position)["content"] == "g: 1\n"


def test_a_store_migrated_from_sqlite_answers_through_the_balancer_as_it_did(
    topology: Topology, migrated: Path
) -> None:
    with running("--db", str(migrated), "--rest-addr", "127.0.0.1:0") as original:
        status, page = original.json("GET", "/v1/events?limit=500")
        assert status == 200
        events = page["events"]
        head = events[-1]["position"]
        names = sorted({event["spec"] for event in events})
        assert names == ["counter", "draft", "gone", "rules"]
        paths = [f"/v1/events?limit={len(events)}", "/v1/specs?state=deleted&name_prefix=gone"]
        for name in names:
            spec = f"/v1/specs/{name}"
            paths += [f"/v1/specs?name_prefix={name}", spec, spec + "/versions"]
            paths += [spec + "/versions/1", spec + "/history", spec + "/published"]
        for event in original.json("GET", "/v1/specs/rules/history")[1]["events"]:
            moment = event["timestamp"].replace("+", "%2B")
            paths.append(f"/v1/specs/rules?as_of={moment}")
        expected = {path: comparable(*original.json("GET", path)) for path in paths}
    at_head = {"X-Min-Position": str(head)}
    for _ in range(2):  # round robin: each instance answers every path
        for path, answer in expected.items():
            status, _, body = request(topology.rest + path, headers=at_head)
            assert comparable(status, body) == answer, path


def test_reads_stay_right_while_redis_is_stopped_and_restarted_mid_load(
    topology: Topology, redis: RedisServer
) -> None:
    names = [f"cached-{n}" for n in range(3)]
    created = {name: create(topology.rest, name) for name in names}
    published = [
        write(topology.rest, "POST", f"/v1/specs/{name}/publish", {"reason": "cache it"})
        for name in names
    ]
    assert set(cache_states(topology)) == {"ok"}
    acked: list[dict] = []
    lock = threading.Lock()
    stop = threading.Event()
    failures: list[BaseException] = []

    def write_then_read(writer: int) -> None:
        """Each write read back through the balancer at its position: never older."""
        pick = random.Random(writer)
        n = 0
        try:
            while not stop.is_set():
                name, n = pick.choice(names), n + 1
                content = f"writer: {writer}\nn: {n}\n"
                answer = update(topology.rest, name, content)
                got = read(topology.rest, f"/v1/specs/{name}", answer["position"])
                assert got["version"] >= answer["version"], (answer, got)
                if got["version"] == answer["version"]:
                    assert got["content"] == content
                with lock:
                    acked.append({**answer, "written": content})
        except BaseException as error:  # reported by the test's thread
            failures.append(error)

    def writes_go_on(more: int) -> None:
        with lock:
            target = len(acked) + more
        eventually(lambda: len(acked) >= target or bool(failures), f"{more} more writes")

    writers = [threading.Thread(target=write_then_read, args=(w,)) for w in range(4)]
    for thread in writers:
        thread.start()
    try:
        writes_go_on(10)
        redis.stop()
        eventually(lambda: set(cache_states(topology)) == {"degraded"}, "cache degraded")
        writes_go_on(20)
        redis.start()  # empty, as after a restart without persistence
        eventually(lambda: set(cache_states(topology)) == {"ok"}, "cache ok again")
        writes_go_on(20)
    finally:
        stop.set()
        for thread in writers:
            thread.join(timeout=60)
        if not redis.answers():
            redis.start()
    assert not failures, failures[0]
    assert_histories_exact(topology.rest, created, acked, published)
    errors = sum(counted(api.rest, "specsvc_cache_errors_total") for api in topology.apis)
    assert errors > 0
    # The restarted cache is filled again and used: reads of the latest versions hit it.
    hits = sum(counted(api.rest, "specsvc_cache_hits_total") for api in topology.apis)
    head = max(a["position"] for a in acked)
    for name in names:
        assert read(topology.rest, f"/v1/specs/{name}/published", head)["version"] == 1

    def hit_again() -> bool:
        for name in names:
            read(topology.rest, f"/v1/specs/{name}")
        return sum(counted(api.rest, "specsvc_cache_hits_total") for api in topology.apis) > hits

    eventually(hit_again, "cache hits after the restart")


def test_the_standby_takes_over_when_the_worker_is_killed_mid_load(topology: Topology) -> None:
    active, standby = topology.workers[:2]
    assert (active.state(), standby.state()) == ("active", "standby")
    names = [f"failover-{n}" for n in range(3)]
    created = {name: create(topology.rest, name) for name in names}
    stop = threading.Event()
    result: list[list[dict]] = []
    load = threading.Thread(target=lambda: result.append(hammer(topology.rest, names, 4, 40, stop)))
    load.start()
    time.sleep(1.0)
    active.process.kill()  # SIGKILL mid-load: its lock dies with its connection
    eventually(lambda: standby.state() == "active", "standby active", standby.process)
    load.join(timeout=120)
    assert not load.is_alive() and result
    acked = result[0]
    assert len(acked) == 4 * 40
    assert_histories_exact(topology.rest, created, acked)
    head = max(a["position"] for a in acked)
    assert standby.readiness()["worker"]["position"] >= head

    # A worker started again stands by behind the new active one.
    restarted = topology.start_worker("standby")
    assert restarted.readiness()["worker"]["lag"] == 0
    after = update(topology.rest, names[0], "after: restart\n")
    assert (
        read(topology.rest, f"/v1/specs/{names[0]}", after["position"])["version"]
        == (after["version"])
    )


def test_the_audit_log_has_each_position_once_and_the_read_models_equal_a_rebuild(
    topology: Topology,
) -> None:
    events: list[dict] = []
    after = 0
    while True:
        page = read(topology.rest, f"/v1/events?after={after}&limit=500")
        events.extend(page["events"])
        if len(page["events"]) < 500:
            break
        after = page["next_after"]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions)
    assert [p for p, n in Counter(positions).items() if n > 1] == []
    per_spec = defaultdict(list)
    for event in events:
        per_spec[event["spec"]].append(event["sequence"])
    for spec, sequences in per_spec.items():
        assert sequences == list(range(1, len(sequences) + 1)), spec
    verified = topology.tool("verify", "--database-url", topology.database_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert all(api.process.alive() for api in topology.apis)
