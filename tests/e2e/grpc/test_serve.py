"""``specsvc serve`` with gRPC and REST as one real process: one application behind both."""

from __future__ import annotations

import hashlib
import re
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from grpc_api import create_server
from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from grpc_api.protos.specsvc.v1 import spec_service_pb2_grpc as rpc
from specsvc import SpecService
from tests.support.processes import Server, running

GRPC_LISTENING = re.compile(r"gRPC API listening on (\S+:\d+)")
RULES = "rule: {field: email, matches: '@example\\.com$'}\n"
WAIT = 30.0  # only to stop a broken build from hanging


def grpc_target(server: Server) -> str:
    found = [m.group(1) for m in map(GRPC_LISTENING.search, server.log) if m]
    assert found, "no gRPC listening line in:\n" + "\n".join(server.log)
    return found[0]


@contextmanager
def channel_to(server: Server) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(grpc_target(server)) as channel:
        grpc.channel_ready_future(channel).result(timeout=WAIT)
        yield channel


def drain(stream: Iterator[pb.Event]) -> list[pb.Event]:
    """What is left of a stream, however it ends (OK when the server closes it cleanly)."""
    rest: list[pb.Event] = []
    try:
        rest.extend(stream)
    except grpc.RpcError as error:
        assert error.code() != grpc.StatusCode.DEADLINE_EXCEEDED, "the stream was left open"
    return rest


def serve_args(tmp_path: Path) -> tuple[str, ...]:
    db = str(tmp_path / "specs.db")
    return ("--db", db, "--rest-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0")


def test_grpc_and_rest_serve_one_application_and_sigterm_stops_both(tmp_path: Path) -> None:
    with running(*serve_args(tmp_path)) as server, channel_to(server) as channel:
        stub = rpc.SpecServiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        for service_name in ("", "specsvc.v1.SpecService"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service_name), timeout=WAIT)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING

        created = stub.CreateSpec(
            pb.CreateSpecRequest(name="by-grpc", type="regex-rules", content=RULES), timeout=WAIT
        )
        status, spec = server.json("GET", "/v1/specs/by-grpc")
        assert (status, spec["content"], spec["revision"]) == (200, RULES, created.revision)

        status, _ = server.json(
            "POST", "/v1/specs", {"name": "by-rest", "type": "generic", "content": "a: 1\n"}
        )
        assert status == 201
        assert server.json("POST", "/v1/specs/by-rest/publish", {"reason": "go"})[0] == 200
        published = stub.GetPublishedSpec(pb.GetPublishedSpecRequest(name="by-rest"), timeout=WAIT)
        assert (published.content, published.version, published.state) == (
            "a: 1\n",
            1,
            "published",
        )

        status, body = server.json("POST", "/v1/specs/by-rest/publish", {"reason": "again"})
        watching = stub.WatchEvents(
            pb.WatchEventsRequest(after=body["position"], names=["by-rest"]), timeout=WAIT
        )
        # The first write may reach the watcher by replay; the second one, made after the
        # watcher has caught up, can only arrive live.
        for n in (2, 3):
            status, body = server.json(
                "PUT", "/v1/specs/by-rest/content", {"content": f"a: {n}\n", "reason": "live"}
            )
            assert status == 200
            event = next(watching)
            assert (event.position, event.spec, event.event, event.version) == (
                body["position"],
                "by-rest",
                "SpecUpdated",
                n,
            )

        # SIGTERM with a watcher still connected: a clean exit, and the stream is ended.
        assert server.stop(signal.SIGTERM) == 0
        assert drain(watching) == []
        assert any("stopped" in line for line in server.log)


def test_grpc_requires_a_token_when_tokens_are_configured(tmp_path: Path) -> None:
    token = "sst_grpc-end-to-end-token"
    digest = hashlib.sha256(token.encode()).hexdigest()
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(f"tokens:\n  - {{principal: carol, sha256: {digest}, roles: [admin]}}\n")
    args = (*serve_args(tmp_path), "--auth-tokens-file", str(tokens))
    with running(*args) as server, channel_to(server) as channel:
        stub = rpc.SpecServiceStub(channel)
        request = pb.CreateSpecRequest(name="guarded", type="generic", content="a: 1\n")
        with pytest.raises(grpc.RpcError) as refused:
            stub.CreateSpec(request, timeout=WAIT)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as refused:
            next(stub.WatchEvents(pb.WatchEventsRequest(after=0), timeout=WAIT))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        health = health_pb2_grpc.HealthStub(channel)
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=WAIT).status == (
            health_pb2.HealthCheckResponse.SERVING
        )

        metadata = (("authorization", f"Bearer {token}"),)
        spec = stub.CreateSpec(request, metadata=metadata, timeout=WAIT)
        assert (spec.name, spec.created_by, spec.version) == ("guarded", "carol", 1)
        status, body = server.json("GET", "/v1/specs/guarded", Authorization=f"Bearer {token}")
        assert (status, body["created_by"]) == (200, "carol")
        assert server.stop(signal.SIGTERM) == 0


def test_a_server_that_cannot_listen_leaves_no_thread_reading_the_store(tmp_path: Path) -> None:
    # A broadcaster left running read the store as `serve` closed it, and crashed the
    # process (SIGSEGV) instead of its one-line error, about one start in six.
    def broadcasters() -> int:
        return sum(t.name == "event-broadcaster" and t.is_alive() for t in threading.enumerate())

    with socket.socket() as holder, SpecService.open(str(tmp_path / "s.db")) as service:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        before = broadcasters()
        with pytest.raises((OSError, RuntimeError)):
            create_server(service, f"127.0.0.1:{holder.getsockname()[1]}")
        assert broadcasters() == before
