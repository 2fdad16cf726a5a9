"""gRPC calls show up in the shared Prometheus families, by RPC and status."""

from __future__ import annotations

import grpc
import pytest

from grpc_api import create_server
from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from grpc_api.protos.specsvc.v1 import spec_service_pb2_grpc as rpc
from specsvc import SpecService
from specsvc.observability.metrics import REGISTRY


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_rpcs_and_commands_are_counted_and_timed() -> None:
    with SpecService.open() as service:
        server = create_server(service, "127.0.0.1:0")
        try:
            with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                stub = rpc.SpecServiceStub(channel)
                ok = {"api": "grpc", "route": "CreateSpec", "method": "", "status": "OK"}
                missing = {**ok, "route": "GetSpec", "status": "SpecNotFound"}
                before = sample("specsvc_requests_total", **ok)
                refused = sample("specsvc_requests_total", **missing)
                created = sample("specsvc_commands_total", command="create", outcome="ok")
                stub.CreateSpec(pb.CreateSpecRequest(name="m", type="generic", content="a: 1\n"))
                with pytest.raises(grpc.RpcError):
                    stub.GetSpec(pb.GetSpecRequest(name="nope"))
        finally:
            server.stop()
    assert sample("specsvc_requests_total", **ok) == before + 1
    assert sample("specsvc_requests_total", **missing) == refused + 1
    assert sample("specsvc_commands_total", command="create", outcome="ok") == created + 1
    assert sample("specsvc_request_duration_seconds_count", **ok) >= 1
