"""Helpers for the gRPC adapter's tests: real servers on port 0, real channels, real tokens.

Servers are shared by a module (see the conftest); tests use fresh spec names from
``unique``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from grpc_api import GrpcServer, create_server
from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from grpc_api.protos.specsvc.v1 import spec_service_pb2_grpc
from specsvc import SpecService
from specsvc.auth import Authenticator
from tests.support.principals import token_of
from tests.support.stores import event_count, open_service

RPC_TIMEOUT = 15
Metadata = Sequence[tuple[str, str]]

_names = itertools.count(1)


def unique(stem: str) -> str:
    """A spec name no other test of the session uses."""
    return f"{stem}-{next(_names)}"


@dataclass(frozen=True)
class GrpcApi:
    """A real channel to a real server, sending one principal's bearer token per call."""

    service: SpecService
    server: GrpcServer
    channel: grpc.Channel
    stub: spec_service_pb2_grpc.SpecServiceStub
    principal: str | None = "ada"

    def as_(self, principal: str | None) -> GrpcApi:
        return replace(self, principal=principal)

    def metadata(self, extra: Metadata = ()) -> list[tuple[str, str]]:
        sent = [("authorization", f"Bearer {token_of(self.principal)}")] if self.principal else []
        return [*sent, *extra]

    def call(self, rpc: str, request: Message, metadata: Metadata = ()) -> Any:
        method = getattr(self.stub, rpc)
        return method(request, metadata=self.metadata(metadata), timeout=RPC_TIMEOUT)

    def with_call(self, rpc: str, request: Message, metadata: Metadata = ()) -> tuple[Any, Any]:
        method = getattr(self.stub, rpc).with_call
        return method(request, metadata=self.metadata(metadata), timeout=RPC_TIMEOUT)

    def fails(self, rpc: str, request: Message, metadata: Metadata = ()) -> grpc.RpcError:
        """The error the call ends with; fails the test if the call succeeds."""
        try:
            answer = self.call(rpc, request, metadata)
        except grpc.RpcError as error:
            return error
        raise AssertionError(f"{rpc} succeeded but should have failed: {answer}")

    def create(
        self, name: str, content: str = "a: 1\n", type: str = "generic", **fields: Any
    ) -> pb.Spec:
        request = pb.CreateSpecRequest(name=name, type=type, content=content, **fields)
        return self.call("CreateSpec", request)

    def update(self, name: str, content: str, reason: str = "edit", **fields: Any) -> pb.Spec:
        request = pb.UpdateSpecRequest(name=name, content=content, reason=reason, **fields)
        return self.call("UpdateSpec", request)

    def publish(self, name: str, reason: str = "ship it", **fields: Any) -> pb.Spec:
        return self.call("PublishSpec", pb.PublishSpecRequest(name=name, reason=reason, **fields))

    def deprecate(self, name: str, reason: str = "retire it") -> pb.Spec:
        return self.call("DeprecateSpec", pb.DeprecateSpecRequest(name=name, reason=reason))

    def delete(self, name: str, reason: str = "remove it") -> pb.Spec:
        return self.call("DeleteSpec", pb.DeleteSpecRequest(name=name, reason=reason))

    def history(self, name: str) -> list[pb.Event]:
        return list(self.call("GetHistory", pb.GetHistoryRequest(name=name)).events)

    def events(self) -> int:
        """The size of the global audit log, read straight from the service."""
        return event_count(self.service)


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo of a rich status, or None when the status carries none."""
    status = rpc_status.from_call(error)
    if status is None or not status.details:
        return None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info), f"first detail is not an ErrorInfo: {status}"
    return info


def assert_rpc_error(
    error: grpc.RpcError, code: grpc.StatusCode, reason: str | tuple[str, ...]
) -> error_details_pb2.ErrorInfo:
    """The status code, and the error code (or one of them) as the ErrorInfo reason."""
    described = f"{error.code()} {error.details()!r}"
    assert error.code() == code, f"expected {code}, got {described}"
    info = error_info(error)
    assert info is not None, f"no ErrorInfo in the status of {described}"
    reasons = (reason,) if isinstance(reason, str) else reason
    assert info.reason in reasons, f"expected reason {reason}, got {info.reason}: {described}"
    assert info.domain == "specsvc", f"ErrorInfo domain is {info.domain!r}: {described}"
    return info


@contextmanager
def serving(service: SpecService, auth: Authenticator | None = None) -> Iterator[GrpcApi]:
    """A real server on a free loopback port and a channel to it, both closed afterwards."""
    server = create_server(service, "127.0.0.1:0", auth)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield GrpcApi(service, server, channel, spec_service_pb2_grpc.SpecServiceStub(channel))
    finally:
        channel.close()
        server.stop(grace=1)


@contextmanager
def served_service(
    kind: str, folder: Path, auth: Authenticator | None = None, **settings: Any
) -> Iterator[GrpcApi]:
    service = open_service(kind, folder, **settings)
    try:
        with serving(service, auth) as api:
            yield api
    finally:
        service.close()
