"""A real ``specsvc serve`` under gRPC load: busy is Unavailable with ErrorInfo, watchers are
limited per principal, and nothing a client sends gets an answer without error details."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf.struct_pb2 import Struct

from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from grpc_api.protos.specsvc.v1 import spec_service_pb2_grpc as rpc
from tests.support.grpc import assert_rpc_error
from tests.support.hostile_inputs import DFA_HOSTILE_RULES, ab_text
from tests.support.principals import PRINCIPALS, token_of
from tests.support.processes import Server, running

Code = grpc.StatusCode
TIMEOUT = 30


def tokens_yaml(path: Path) -> Path:
    entries = [
        {"principal": name, "sha256": hashlib.sha256(token_of(name).encode()).hexdigest(),
         "roles": list(roles)}
        for name, roles in PRINCIPALS.items()
    ]  # fmt: skip
    path.write_text(yaml.safe_dump({"tokens": entries}))
    return path


def grpc_port(server: Server) -> int:
    line = next(line for line in server.log if "gRPC API listening" in line)
    return int(re.search(r"listening on [^:]+:(\d+)", line).group(1))  # type: ignore[union-attr]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[Any] = []

    def start(**env: str) -> tuple[Server, rpc.SpecServiceStub, grpc.Channel]:
        args = (
            "--db", str(tmp_path / "s.db"),
            "--rest-addr", "127.0.0.1:0",
            "--grpc-addr", "127.0.0.1:0",
            "--auth-tokens-file", str(tokens_yaml(tmp_path / "tokens.yaml")),
        )  # fmt: skip
        context = running(*args, env=env)
        server = context.__enter__()
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port(server)}")
        started.append((context, channel))
        return server, rpc.SpecServiceStub(channel), channel

    yield start
    for context, channel in started:
        channel.close()
        context.__exit__(None, None, None)


def meta(principal: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token_of(principal)}")]


def test_watchers_are_limited_per_principal_and_others_still_watch_and_read(serve: Any) -> None:
    _, stub, _ = serve(SPECSVC_MAX_WATCHERS_PER_PRINCIPAL="4")
    streams = [stub.WatchEvents(pb.WatchEventsRequest(), metadata=meta("rita")) for _ in range(5)]
    try:
        deadline = time.monotonic() + TIMEOUT
        while not any(s.done() for s in streams) and time.monotonic() < deadline:
            time.sleep(0.05)
        refused = [s for s in streams if s.done()]
        assert len(refused) == 1, "exactly one of rita's five watchers is refused"
        with pytest.raises(grpc.RpcError) as raised:
            next(refused[0])
        info = assert_rpc_error(raised.value, Code.UNAVAILABLE, "Unavailable")
        assert "rita" in raised.value.details() and info.metadata["retry_after"] == "5"
        other = stub.WatchEvents(pb.WatchEventsRequest(), metadata=meta("ada"))
        listed = stub.ListSpecs(pb.ListSpecsRequest(), metadata=meta("rita"), timeout=TIMEOUT)
        assert list(listed.specs) == []
        assert other.is_active() and sum(s.is_active() for s in streams) == 4
        other.cancel()
    finally:
        for stream in streams:
            stream.cancel()


HOSTILE = DFA_HOSTILE_RULES


def test_past_the_unary_capacity_a_call_is_unavailable_with_error_info(serve: Any) -> None:
    _, stub, _ = serve(SPECSVC_THREADS="2", SPECSVC_MAX_CONCURRENT_EVALUATIONS="64")
    stub.CreateSpec(
        pb.CreateSpecRequest(name="slow", type="regex-rules", content=HOSTILE),
        metadata=meta("ada"),
        timeout=TIMEOUT,
    )
    value = Struct()
    value.update({"f": ab_text(15_000, seed=3)})
    outcomes: list[Any] = []

    def evaluate() -> None:
        try:
            request = pb.EvaluateSpecRequest(name="slow", input=value)
            stub.EvaluateSpec(request, metadata=meta("ada"), timeout=TIMEOUT)
            outcomes.append(Code.OK)
        except grpc.RpcError as error:
            outcomes.append(error)

    threads = [threading.Thread(target=evaluate) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refusals = [o for o in outcomes if o is not Code.OK]
    assert Code.OK in outcomes and refusals
    for error in refusals:
        assert_rpc_error(error, Code.UNAVAILABLE, "Unavailable")


@pytest.mark.parametrize("depth", [5000, 600])
def test_a_page_token_nested_deep_is_bad_request(serve: Any, depth: int) -> None:
    _, stub, _ = serve()
    token = base64.urlsafe_b64encode(b"[" * depth).decode()
    with pytest.raises(grpc.RpcError) as raised:
        request = pb.ListSpecsRequest(page_token=token)
        stub.ListSpecs(request, metadata=meta("rita"), timeout=TIMEOUT)
    assert_rpc_error(raised.value, Code.INVALID_ARGUMENT, "BadRequest")
