"""gRPC throughput and latency, as ratios against a bare grpcio method in the same run.

GetPublishedSpec and UpdateSpec (specs of ~1.5 KB) from client threads, each with its own
channel, next to a bare grpcio method on raw bytes whose requests and replies have the
same sizes as the real messages; both servers run in their own processes. Then the
commit-to-watcher delivery latency: from just before an UpdateSpec call until a
WatchEvents stream, read by another thread, receives that event.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from benchmarks._common import Stats, parse_args, print_table, temp_dir, yaml_content
from benchmarks._grpc_server import BARE_METHOD, SEEDED, SPEC_BYTES, WATCHED
from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from grpc_api.protos.specsvc.v1 import spec_service_pb2_grpc as rpc

FULL = {"requests": 3000, "clients": 4, "rounds": 2, "updates": 300}
QUICK = {"requests": 200, "clients": 2, "rounds": 1, "updates": 50}
TIMEOUT = 30.0
serials = itertools.count(1000)  # every update writes new content, so none is a no-op


@dataclass
class Case:
    label: str
    app: str  # "bare" or "spec"
    request: Callable[[int], Any]  # the i-th request, built before the clock starts
    method: Callable[[grpc.Channel], Callable[..., Any]]


def start_server(app: str, db: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._grpc_server", app, db],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


# grpcio shares one connection between a process's channels to the same address; with
# this option each channel has its own, as separate client processes would.
OWN_CONNECTION = ("grpc.use_local_subchannel_pool", 1)


def connect(port: int, own_connection: bool = False) -> grpc.Channel:
    options = [OWN_CONNECTION] if own_connection else []
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
    grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
    return channel


def update_request(name: str) -> pb.UpdateSpecRequest:
    content = yaml_content(next(serials), SPEC_BYTES)
    return pb.UpdateSpecRequest(name=name, content=content, reason="bench")


def bare_request(request_bytes: int, reply_bytes: int) -> bytes:
    """A bare call's request: as long as a real request, asking for a real reply's length."""
    return reply_bytes.to_bytes(4, "little") + bytes(max(0, request_bytes - 4))


def cases(spec_port: int) -> list[Case]:
    """The real calls, and bare calls with the sizes their messages have on the wire."""
    with connect(spec_port) as channel:
        stub = rpc.SpecServiceStub(channel)
        get = pb.GetPublishedSpecRequest(name="spec-0")
        update = update_request("spec-0")
        get_reply = stub.GetPublishedSpec(get, timeout=TIMEOUT).ByteSize()
        update_reply = stub.UpdateSpec(update, timeout=TIMEOUT).ByteSize()
    bare_get = bare_request(get.ByteSize(), get_reply)
    bare_update = bare_request(update.ByteSize(), update_reply)

    def bare(channel: grpc.Channel) -> Callable[..., Any]:
        return channel.unary_unary(BARE_METHOD)  # raw bytes both ways

    return [
        Case(f"bare {len(bare_get)} B -> {get_reply} B", "bare", lambda i: bare_get, bare),
        Case(
            "GetPublishedSpec",
            "spec",
            lambda i: pb.GetPublishedSpecRequest(name=f"spec-{i % SEEDED}"),
            lambda channel: rpc.SpecServiceStub(channel).GetPublishedSpec,
        ),
        Case(f"bare {len(bare_update)} B -> {update_reply} B", "bare", lambda i: bare_update, bare),
        Case(
            "UpdateSpec",
            "spec",
            lambda i: update_request(f"spec-{i % SEEDED}"),
            lambda channel: rpc.SpecServiceStub(channel).UpdateSpec,
        ),
    ]


TURNED_AWAY = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)


def load(
    port: int, requests: int, clients: int, case: Case, own_connections: bool = False
) -> tuple[list[int], float]:
    """Nanosecond samples of ``requests`` calls from ``clients`` threads, and the wall time
    (``own_connections``: each thread's channel on a connection of its own)."""
    prepared = [case.request(i) for i in range(requests)]
    channels = [connect(port, own_connections) for _ in range(clients)]
    samples: list[int] = []
    refused = [0]
    lock = threading.Lock()

    def client(offset: int) -> None:
        call = case.method(channels[offset])
        mine, turned_away = [], 0
        for request in prepared[offset::clients]:
            begin = time.perf_counter_ns()
            try:
                call(request, timeout=TIMEOUT)
            except grpc.RpcError as error:  # a full server turns calls away: count, go on
                if error.code() not in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                ):
                    raise
                turned_away += 1
                continue
            mine.append(time.perf_counter_ns() - begin)
        with lock:
            samples.extend(mine)
            refused[0] += turned_away

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    started = time.perf_counter_ns()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = (time.perf_counter_ns() - started) / 1e9
    for channel in channels:
        channel.close()
    if refused[0]:
        print(f"{case.label}: {refused[0]} calls turned away", file=sys.stderr)
    return samples, wall


def unary(ports: dict[str, int], config: dict[str, int]) -> list[tuple[str, Stats]]:
    measured = cases(ports["spec"])
    samples: dict[str, list[int]] = {c.label: [] for c in measured}
    walls = dict.fromkeys(samples, 0.0)
    for case in measured:  # warm up every server and code path
        load(ports[case.app], min(50, config["requests"]), config["clients"], case)
    for _ in range(config["rounds"]):  # interleaved, so drift touches every row alike
        for case in measured:
            taken, wall = load(ports[case.app], config["requests"], config["clients"], case)
            samples[case.label] += taken
            walls[case.label] += wall
    results = []
    for label, taken in samples.items():
        stats = Stats(taken)
        stats.total_s = walls[label]  # wall time: throughput across the client threads
        results.append((label, stats))
    return results


def delivery(port: int, updates: int) -> tuple[Stats, Stats]:
    """UpdateSpec acknowledgement and watcher delivery, both timed from before the call."""
    arrivals: dict[int, int] = {}
    arrived = threading.Condition()
    watcher_channel, writer_channel = connect(port), connect(port)
    # after=0 replays the watched spec's creation, so the watcher misses nothing while joining.
    stream = rpc.SpecServiceStub(watcher_channel).WatchEvents(
        pb.WatchEventsRequest(after=0, names=[WATCHED])
    )

    def watch() -> None:
        try:
            for event in stream:
                now = time.perf_counter_ns()
                with arrived:
                    arrivals[event.position] = now
                    arrived.notify_all()
        except grpc.RpcError:
            pass  # cancelled at the end

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    stub = rpc.SpecServiceStub(writer_channel)
    acks, deliveries = [], []
    for n in range(-10, updates):  # the first ten warm up
        request = update_request(WATCHED)
        begin = time.perf_counter_ns()
        position = stub.UpdateSpec(request, timeout=TIMEOUT).position
        acked = time.perf_counter_ns()
        with arrived:
            if not arrived.wait_for(lambda p=position: p in arrivals, TIMEOUT):
                raise RuntimeError(f"the watcher never received position {position}")
        if n >= 0:
            acks.append(acked - begin)
            deliveries.append(arrivals[position] - begin)
    stream.cancel()
    watcher.join(TIMEOUT)
    watcher_channel.close()
    writer_channel.close()
    return Stats(acks), Stats(deliveries)


def main() -> None:
    args = parse_args(__doc__ or "")
    config = QUICK if args.quick else FULL
    processes = []
    with temp_dir() as directory:
        try:
            ports = {}
            for app in ("bare", "spec"):
                process, ports[app] = start_server(app, os.path.join(directory, "grpc.db"))
                processes.append(process)
            results = unary(ports, config)
            ack, delivered = delivery(ports["spec"], config["updates"])
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
    report(results, ack, delivered, config)


def report(
    results: list[tuple[str, Stats]], ack: Stats, delivered: Stats, config: dict[str, int]
) -> None:
    rows = []
    for index, (label, stats) in enumerate(results):
        floor = results[index - index % 2][1]  # each real call follows its bare floor
        rows.append(
            [
                label,
                stats.n,
                stats.ops_per_s,
                stats.p50_us,
                stats.p99_us,
                stats.p50_us / floor.p50_us,
                floor.ops_per_s / stats.ops_per_s,
            ]
        )
    print(
        f"bench_grpc: {config['clients']} client threads with a channel each,"
        f" {config['requests']} calls per row per round, {config['rounds']} round(s);"
        f" specs of ~{SPEC_BYTES / 1000:.1f} KB; x floor = against the bare grpcio method"
        " above the row, with the same request and reply sizes"
    )
    print_table(
        "unary calls, latency in microseconds",
        ["call", "n", "calls/s", "p50", "p99", "p50 x floor", "floor calls/s ÷ calls/s"],
        rows,
    )
    print_table(
        "commit to watcher, microseconds from just before the UpdateSpec call",
        ["measure", "n", "p50", "p99", "p50 x ack", "p99 x ack"],
        [
            [name, s.n, s.p50_us, s.p99_us, s.p50_us / ack.p50_us, s.p99_us / ack.p99_us]
            for name, s in (("UpdateSpec acknowledged", ack), ("watcher has the event", delivered))
        ],
    )


if __name__ == "__main__":
    main()
