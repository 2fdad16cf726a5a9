"""Idempotency keys over gRPC: the metadata, replayed answers and the error for reuse."""

from __future__ import annotations

import grpc

from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from tests.support.grpc import GrpcApi, assert_rpc_error, unique


def test_a_retried_update_gets_the_first_answer_and_writes_nothing(grpc_api: GrpcApi) -> None:
    name = unique("once")
    grpc_api.create(name)
    key = [("idempotency-key", f"update-{name}")]
    request = pb.UpdateSpecRequest(name=name, content="a: 2\n", reason="r")
    first = grpc_api.call("UpdateSpec", request, key)
    count = grpc_api.events()
    assert grpc_api.call("UpdateSpec", request, key) == first
    assert grpc_api.events() == count


def test_a_key_reused_for_another_request_is_invalid_argument(grpc_api: GrpcApi) -> None:
    name = unique("reused")
    grpc_api.create(name)
    key = [("idempotency-key", f"k-{name}")]
    grpc_api.call("UpdateSpec", pb.UpdateSpecRequest(name=name, content="a: 2\n", reason="r"), key)
    other = pb.UpdateSpecRequest(name=name, content="a: 3\n", reason="r")
    error = grpc_api.fails("UpdateSpec", other, key)
    assert_rpc_error(error, grpc.StatusCode.INVALID_ARGUMENT, "IdempotencyKeyReused")
