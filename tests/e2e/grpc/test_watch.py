"""``WatchEvents`` on a real server: every committed event reaches every watcher once, in order.

Real parts throughout: a SpecService on a SQLite file, a gRPC server on a free port, real
channels. The only white-box looks are at the broadcaster's subscription list and
position, to know when watchers have joined or left.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import grpc
import pytest

from grpc_api import GrpcServer, create_server, watch
from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from grpc_api.protos.specsvc.v1 import spec_service_pb2_grpc as rpc
from specsvc import SpecService
from specsvc.config import Settings

WAIT = 20.0  # only to stop a broken build from hanging; never a performance bound
RULES = "rule: {field: email, matches: '@example\\.com$'}\n"
ACTOR = "tester"


class Watcher:
    """One WatchEvents stream, read to the end by its own thread."""

    def __init__(self, call: Any):
        self.call = call
        self.events: list[pb.Event] = []
        self.error: grpc.StatusCode | None = None
        self.ended = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for event in self.call:
                with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()
        except grpc.RpcError as error:
            self.error = error.code()
        finally:
            with self._changed:
                self.ended = True
                self._changed.notify_all()

    @property
    def positions(self) -> list[int]:
        return [e.position for e in self.events]

    def wait_for(self, position: int, timeout: float = WAIT) -> bool:
        """True once an event at ``position`` or later has arrived."""

        def arrived() -> bool:
            return bool(self.events and self.events[-1].position >= position)

        with self._changed:
            self._changed.wait_for(lambda: self.ended or arrived(), timeout)
            return arrived()

    def wait_ended(self) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.ended, WAIT)

    def cancel(self) -> None:
        self.call.cancel()
        self._reader.join(WAIT)


def open_watcher(channel: grpc.Channel, timeout: float | None = None, **request: Any) -> Watcher:
    call = rpc.SpecServiceStub(channel).WatchEvents(
        pb.WatchEventsRequest(**request), timeout=timeout
    )
    return Watcher(call)


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def identity(event: Any) -> tuple[int, str, int, str]:
    if isinstance(event, dict):
        return (event["position"], event["spec"], event["sequence"], event["event"])
    return (event.position, event.spec, event.sequence, event.event)


def committed(service: SpecService, after: int = 0) -> list[tuple[int, str, int, str]]:
    """The audit log after a position, every page of it."""
    rows: list[dict[str, Any]] = []
    while True:
        page = service.list_events(after=after, limit=500)["events"]
        rows += page
        if len(page) < 500:
            return [identity(row) for row in rows]
        after = page[-1]["position"]


def counted_reads(service: SpecService, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads that read the audit log from now on."""
    calls: list[str] = []
    list_events = service.list_events

    def counted(**query: Any) -> dict[str, Any]:
        calls.append(threading.current_thread().name)
        return list_events(**query)

    monkeypatch.setattr(service, "list_events", counted)
    return calls


@pytest.fixture
def service(tmp_path: Path) -> Iterator[SpecService]:
    svc = SpecService.open(settings=Settings(db=str(tmp_path / "specs.db")))
    yield svc
    svc.close()


@pytest.fixture
def start_server(service: SpecService) -> Iterator[Callable[..., GrpcServer]]:
    servers: list[GrpcServer] = []

    def start(**options: Any) -> GrpcServer:
        # Every watcher here is the anonymous principal: only the total limit applies.
        options.setdefault("max_watchers_per_principal", options.get("max_watchers", 128))
        servers.append(create_server(service, "127.0.0.1:0", **options))
        return servers[-1]

    yield start
    for server in servers:
        server.stop(grace=1)


@pytest.fixture
def server(start_server: Callable[..., GrpcServer]) -> GrpcServer:
    return start_server(threads=8)


@pytest.fixture
def connect(server: GrpcServer) -> Iterator[Callable[..., grpc.Channel]]:
    with ExitStack() as channels:

        def open_channel(port: int = server.port, **options: Any) -> grpc.Channel:
            channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=list(options.items()))
            return channels.enter_context(channel)

        yield open_channel


def subscribed(server: GrpcServer) -> int:
    return len(server.broadcaster._subscriptions)


def idle(server: GrpcServer, service: SpecService) -> bool:
    """Everything written is projected, and the broadcaster has handed it all out."""
    return wait_until(
        lambda: service.catch_up() and server.broadcaster.position == service.projected_position()
    )


def settled(service: SpecService) -> int:
    """The position of the last write, once the projector has projected it."""
    assert service.catch_up()
    return service.projected_position()


def write_lifecycles(channel: grpc.Channel, prefix: str, count: int) -> None:
    stub = rpc.SpecServiceStub(channel)
    for n in range(count):
        name = f"{prefix}-{n}"
        stub.CreateSpec(pb.CreateSpecRequest(name=name, type="generic", content=f"n: {n}\n"))
        stub.UpdateSpec(pb.UpdateSpecRequest(name=name, content=f"n: {n + 1}\n", reason="more"))
        stub.PublishSpec(pb.PublishSpecRequest(name=name, reason="ship"))


def test_every_watcher_receives_exactly_the_committed_sequence_under_concurrent_writes(
    server: GrpcServer, service: SpecService, connect: Callable[..., grpc.Channel]
) -> None:
    write_lifecycles(connect(), "early", 3)
    assert idle(server, service)
    base = settled(service)
    channels = [connect() for _ in range(4)]
    from_now = [open_watcher(channels[n % 4]) for n in range(10)]
    from_zero = [open_watcher(channels[n % 4], after=0) for n in range(10)]
    assert wait_until(lambda: subscribed(server) == 20)

    writers = [
        threading.Thread(target=write_lifecycles, args=(connect(), f"w{k}", 10)) for k in range(4)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(WAIT * 3)
    final = settled(service)

    assert len(committed(service, base)) == 4 * 10 * 3
    for watcher in from_now + from_zero:
        assert watcher.wait_for(final), (watcher.positions[-3:], watcher.error)
    for watcher in from_now:
        assert [identity(e) for e in watcher.events] == committed(service, base)
    for watcher in from_zero:
        assert [identity(e) for e in watcher.events] == committed(service, 0)


def test_a_watcher_that_reconnects_with_its_last_position_misses_nothing_and_repeats_nothing(
    server: GrpcServer, service: SpecService, connect: Callable[..., grpc.Channel]
) -> None:
    service.create_spec("busy", "generic", "n: 0\n", actor=ACTOR)
    service.create_spec("offline", "generic", "n: 0\n", actor=ACTOR)
    base = settled(service)
    stop = threading.Event()

    def keep_writing() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            service.update_spec("busy", f"n: {n}\n", actor=ACTOR, reason="tick")
            time.sleep(0.005)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    stub = rpc.SpecServiceStub(connect())
    received: list[pb.Event] = []
    written_while_away: list[int] = []
    try:
        after = base
        for visit in range(4):
            call = stub.WatchEvents(pb.WatchEventsRequest(after=after), timeout=WAIT)
            for event in call:
                received.append(event)
                if len(received) % 10 == 0:
                    break
            call.cancel()
            after = received[-1].position
            for n in range(3):  # committed while this watcher is disconnected
                update = service.update_spec(
                    "offline", f"n: {visit}.{n + 1}\n", actor=ACTOR, reason="away"
                )
                written_while_away.append(update["position"])
    finally:
        stop.set()
        writer.join(WAIT)
    final = settled(service)
    last = open_watcher(connect(), after=after)
    assert last.wait_for(final)
    received += last.events

    assert [identity(e) for e in received] == committed(service, base)
    assert set(written_while_away) <= {e.position for e in received}


def test_watchers_filter_by_spec_names_and_types(
    server: GrpcServer, service: SpecService, connect: Callable[..., grpc.Channel]
) -> None:
    service.create_spec("alpha", "regex-rules", RULES, actor=ACTOR)
    service.create_spec("beta", "generic", "b: 1\n", actor=ACTOR)
    service.create_spec("rules", "regex-rules", RULES, actor=ACTOR)
    assert idle(server, service)
    base = settled(service)
    channel = connect()
    filters: list[dict[str, Any]] = [
        {"names": ["alpha"]},
        {"types": ["regex-rules"]},
        {"names": ["alpha", "beta"], "types": ["regex-rules"]},  # both must match
        {"names": ["alpha", "late-rules", "beta"]},
        {"types": ["generic", "regex-rules"]},
        {"names": ["alpha"], "after": 0},  # history replayed through the same filter
    ]
    watchers = [open_watcher(channel, **f) for f in filters]
    assert wait_until(lambda: subscribed(server) == len(filters))

    service.update_spec("beta", "b: 2\n", actor=ACTOR, reason="r")
    service.update_spec("rules", RULES + "# v2\n", actor=ACTOR, reason="r")
    service.publish_spec("rules", actor=ACTOR, reason="r")
    service.create_spec("late-rules", "regex-rules", RULES, actor=ACTOR)
    service.create_spec("late-generic", "generic", "g: 1\n", actor=ACTOR)
    service.update_spec("late-rules", RULES + "# v2\n", actor=ACTOR, reason="r")
    service.delete_spec("beta", actor=ACTOR, reason="r")
    service.update_spec("late-generic", "g: 2\n", actor=ACTOR, reason="r")
    service.publish_spec("alpha", actor=ACTOR, reason="r")  # every filter takes this one last
    final = settled(service)

    types = {s["name"]: s["type"] for s in service.list_specs(limit=500)["specs"]}
    types.update({s["name"]: s["type"] for s in service.list_specs(state="deleted")["specs"]})
    for watcher, wanted in zip(watchers, filters, strict=True):
        names, kinds = set(wanted.get("names", ())), set(wanted.get("types", ()))
        expected = [
            row
            for row in committed(service, wanted.get("after", base))
            if (not names or row[1] in names) and (not kinds or types[row[1]] in kinds)
        ]
        assert watcher.wait_for(final), (wanted, watcher.error, watcher.positions)
        assert [identity(e) for e in watcher.events] == expected, wanted
    assert {e.spec for e in watchers[1].events} == {"rules", "late-rules", "alpha"}


def watched_from_now_and_from_zero(
    server: GrpcServer, service: SpecService, connect: Callable[..., grpc.Channel], name: str
) -> Watcher:
    """Two watchers, one from now and one after position 0, then a spec created: the first
    gets only that write, the second the whole log in order. Answers the second."""
    channel = connect()
    from_now, from_zero = open_watcher(channel), open_watcher(channel, after=0)
    assert wait_until(lambda: subscribed(server) == 2)
    new = service.create_spec(name, "generic", "n: 1\n", actor=ACTOR)["position"]
    assert from_now.wait_for(new) and from_zero.wait_for(new)
    assert from_now.positions == [new]
    assert [identity(e) for e in from_zero.events] == committed(service, 0)
    return from_zero


def test_after_unset_starts_from_now_and_after_zero_replays_everything_first(
    server: GrpcServer, service: SpecService, connect: Callable[..., grpc.Channel]
) -> None:
    for n in range(5):
        service.create_spec(f"old-{n}", "generic", f"n: {n}\n", actor=ACTOR)
    assert idle(server, service)
    from_zero = watched_from_now_and_from_zero(server, service, connect, "new")
    assert [e.spec for e in from_zero.events] == [f"old-{n}" for n in range(5)] + ["new"]


def test_cancelled_and_expired_watchers_free_their_subscriptions(
    server: GrpcServer, service: SpecService, connect: Callable[..., grpc.Channel]
) -> None:
    created = service.create_spec("churn", "generic", "n: 0\n", actor=ACTOR)["position"]
    channel = connect()
    cancelled = [open_watcher(channel, after=0) for _ in range(15)]
    expiring = [open_watcher(channel, timeout=1.0) for _ in range(15)]
    assert all(w.wait_for(created) for w in cancelled)
    position = service.update_spec("churn", "n: 1\n", actor=ACTOR, reason="r")["position"]
    assert all(w.wait_for(position) for w in cancelled)  # mid-stream, not only idle
    for watcher in cancelled:
        watcher.cancel()

    assert all(w.wait_ended() for w in expiring)
    assert {w.error for w in expiring} == {grpc.StatusCode.DEADLINE_EXCEEDED}
    assert {w.error for w in cancelled} == {grpc.StatusCode.CANCELLED}
    assert wait_until(lambda: subscribed(server) == 0, timeout=5.0), subscribed(server)

    fresh = open_watcher(channel)
    assert wait_until(lambda: subscribed(server) == 1)
    position = service.update_spec("churn", "n: 2\n", actor=ACTOR, reason="r")["position"]
    assert fresh.wait_for(position) and fresh.positions == [position]


def test_a_hundred_watchers_share_one_broadcaster_and_none_of_them_polls(
    server: GrpcServer,
    service: SpecService,
    connect: Callable[..., grpc.Channel],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    channels = [connect() for _ in range(10)]
    watchers = [open_watcher(channels[n % 10]) for n in range(100)]
    assert wait_until(lambda: subscribed(server) == 100)
    broadcasters = [t for t in threading.enumerate() if t.name == "event-broadcaster"]
    assert len(broadcasters) == 1

    calls = counted_reads(service, monkeypatch)
    time.sleep(2.0)  # idle: only the broadcaster's once-a-second wake may read the store
    assert len(calls) <= 4, calls
    assert set(calls) <= {"event-broadcaster"}

    position = service.create_spec("news", "generic", "n: 1\n", actor=ACTOR)["position"]
    assert all(w.wait_for(position) for w in watchers)
    assert all(w.positions == [position] for w in watchers)


def test_with_nobody_watching_the_broadcaster_reads_no_rows_and_a_later_watcher_misses_none(
    server: GrpcServer,
    service: SpecService,
    connect: Callable[..., grpc.Channel],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = counted_reads(service, monkeypatch)
    for n in range(5):
        service.create_spec(f"unwatched-{n}", "generic", f"n: {n}\n", actor=ACTOR)
    assert idle(server, service)  # the broadcaster stands at the last write...
    assert calls == []  # ...without having read a row: there was nobody to hand them to

    watched_from_now_and_from_zero(server, service, connect, "watched")


def test_a_watcher_beyond_max_watchers_is_unavailable(
    start_server: Callable[..., GrpcServer],
    service: SpecService,
    connect: Callable[..., grpc.Channel],
) -> None:
    small = start_server(threads=4, max_watchers=3)
    channel = connect(small.port)
    admitted = [open_watcher(channel) for _ in range(3)]
    assert wait_until(lambda: subscribed(small) == 3)

    refused = open_watcher(channel)
    assert refused.wait_ended()
    assert refused.error == grpc.StatusCode.UNAVAILABLE
    assert "too many watchers" in (refused.call.details() or "")

    admitted[0].cancel()
    assert wait_until(lambda: subscribed(small) == 2)
    again = open_watcher(channel)
    assert wait_until(lambda: subscribed(small) == 3)
    position = service.create_spec("seen", "generic", "n: 1\n", actor=ACTOR)["position"]
    assert all(w.wait_for(position) for w in [*admitted[1:], again])


def test_a_watcher_that_falls_behind_gets_every_event_or_unavailable_never_a_gap(
    server: GrpcServer,
    service: SpecService,
    connect: Callable[..., grpc.Channel],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A small queue stands in for 10,000 rows of backlog; a small flow-control window makes
    # the server's sends block as soon as this client stops reading.
    monkeypatch.setattr(watch, "QUEUE_LIMIT", 20)
    channel = connect(**{"grpc.http2.bdp_probe": 0, "grpc.http2.lookahead_bytes": 1024})
    service.create_spec("firehose", "generic", "n: 0\n", actor=ACTOR)
    base = settled(service)
    call = rpc.SpecServiceStub(channel).WatchEvents(
        pb.WatchEventsRequest(after=base), timeout=WAIT * 2
    )
    first = service.update_spec("firehose", "n: 1\n", actor=ACTOR, reason="r")["position"]
    assert next(call).position == first
    for n in range(150):  # the client reads nothing meanwhile
        service.update_spec("firehose", f"n: {n + 2}\n", actor=ACTOR, reason="r")
    assert idle(server, service)
    final = settled(service)

    watcher = Watcher(call)
    if not watcher.wait_for(final, timeout=3.0) and not watcher.ended:
        # Stuck short of the end: one more commit shows whether the stream skips ahead.
        final = service.update_spec("firehose", "n: late\n", actor=ACTOR, reason="r")["position"]
        watcher.wait_for(final, timeout=5.0)
    watcher.cancel()
    positions = [first, *watcher.positions]
    expected = [row[0] for row in committed(service, base)]
    assert positions == expected[: len(positions)], (
        f"after {len(positions)} of {len(expected)} events the stream jumped: "
        f"{[(a, b) for a, b in itertools.pairwise(positions) if b != a + 1]}"
        f"; it ended with {watcher.error}"
    )
    if positions[-1] < final:
        assert watcher.error == grpc.StatusCode.UNAVAILABLE, watcher.error
        rest = open_watcher(channel, after=positions[-1])
        assert rest.wait_for(final)
        positions += rest.positions
    assert positions == expected
