"""Server reflection, a client with no generated code, and the health service."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from tests.support.grpc import RPC_TIMEOUT, GrpcApi, served_service, unique
from tests.support.principals import JwtKeys, authenticator, token_of

SERVICE = "specsvc.v1.SpecService"
HEALTH = "grpc.health.v1.Health"
REFLECTION = "grpc.reflection.v1alpha.ServerReflection"
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
ADMIN = (("authorization", f"Bearer {token_of('ada')}"),)


def listed_services(channel: grpc.Channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    [answer] = list(stub.ServerReflectionInfo(iter([request]), timeout=RPC_TIMEOUT))
    return {service.name for service in answer.list_services_response.service}


def test_reflection_lists_the_spec_health_and_reflection_services(grpc_api: GrpcApi) -> None:
    assert {SERVICE, HEALTH, REFLECTION, REFLECTION_V1} <= listed_services(grpc_api.channel)


def reflection_v1_classes(channel: grpc.Channel) -> tuple[type, type]:
    """v1's request and response classes, built from what the server says v1 is."""
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    method = pool.FindServiceByName(REFLECTION_V1).methods_by_name["ServerReflectionInfo"]
    assert method.client_streaming and method.server_streaming
    assert method.input_type.full_name == "grpc.reflection.v1.ServerReflectionRequest"
    request = message_factory.GetMessageClass(method.input_type)
    return request, message_factory.GetMessageClass(method.output_type)


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_a_client_lists_the_services_through_either_reflection_version(
    grpc_api: GrpcApi, version: str
) -> None:
    if version == "v1":
        request_class, response_class = reflection_v1_classes(grpc_api.channel)
    else:
        request_class = reflection_pb2.ServerReflectionRequest
        response_class = reflection_pb2.ServerReflectionResponse
    info = grpc_api.channel.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=lambda message: message.SerializeToString(),
        response_deserializer=response_class.FromString,
    )
    [answer] = list(info(iter([request_class(list_services="")]), timeout=RPC_TIMEOUT))
    listed = {service.name for service in answer.list_services_response.service}
    assert {SERVICE, HEALTH, REFLECTION, REFLECTION_V1} <= listed


def test_reflection_v1_describes_the_spec_service(grpc_api: GrpcApi) -> None:
    request_class, response_class = reflection_v1_classes(grpc_api.channel)
    info = grpc_api.channel.stream_stream(
        f"/{REFLECTION_V1}/ServerReflectionInfo",
        request_serializer=lambda message: message.SerializeToString(),
        response_deserializer=response_class.FromString,
    )
    asked = request_class(file_containing_symbol=SERVICE)
    [answer] = list(info(iter([asked]), timeout=RPC_TIMEOUT))
    files = answer.file_descriptor_response.file_descriptor_proto
    names = {descriptor_pb2.FileDescriptorProto.FromString(raw).name for raw in files}
    assert "grpc_api/protos/specsvc/v1/spec_service.proto" in names


class GenericClient:
    """Calls any RPC by name, with message classes built from the server's reflection."""

    def __init__(self, channel: grpc.Channel):
        self.channel = channel
        database = ProtoReflectionDescriptorDatabase(channel)
        self.pool = descriptor_pool.DescriptorPool(database)
        self.service: ServiceDescriptor = self.pool.FindServiceByName(SERVICE)

    def message(self, rpc: str, **fields: object) -> object:
        method = self.service.methods_by_name[rpc]
        return message_factory.GetMessageClass(method.input_type)(**fields)

    def call(self, rpc: str, **fields: object) -> object:
        method = self.service.methods_by_name[rpc]
        response_class = message_factory.GetMessageClass(method.output_type)
        stub = self.channel.unary_unary(
            f"/{self.service.full_name}/{method.name}",
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=response_class.FromString,
        )
        return stub(self.message(rpc, **fields), metadata=ADMIN, timeout=RPC_TIMEOUT)


def test_reflection_describes_every_rpc_of_the_service(grpc_api: GrpcApi) -> None:
    client = GenericClient(grpc_api.channel)
    names = set(client.service.methods_by_name)
    assert {"CreateSpec", "GetSpec", "ListEvents", "WatchEvents", "EvaluateSpec"} <= names
    watch = client.service.methods_by_name["WatchEvents"]
    assert watch.server_streaming and not watch.client_streaming
    spec = client.pool.FindMessageTypeByName("specsvc.v1.Spec")
    assert spec.fields_by_name["published_version"].has_presence


def test_a_client_without_generated_code_creates_and_reads_a_spec(grpc_api: GrpcApi) -> None:
    client = GenericClient(grpc_api.channel)
    name = unique("generic-client")
    created = client.call(
        "CreateSpec", name=name, type="generic", content="a: 1\n", reason="by reflection"
    )
    assert (created.name, created.state, created.version) == (name, "draft", 1)
    assert type(created).DESCRIPTOR.full_name == "specsvc.v1.Spec"
    fetched = client.call("GetSpec", name=name, version=1)
    assert (fetched.content, fetched.created_by) == ("a: 1\n", "ada")
    assert grpc_api.service.get_spec(name)["id"] == fetched.id


def test_a_client_without_generated_code_gets_the_rich_error_status(grpc_api: GrpcApi) -> None:
    client = GenericClient(grpc_api.channel)
    with pytest.raises(grpc.RpcError) as raised:
        client.call("GetSpec", name=unique("not-there"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


# --- health -------------------------------------------------------------------------------


def health_of(channel: grpc.Channel, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest(service=service)
    return stub.Check(request, timeout=RPC_TIMEOUT).status


def wait_for_health(channel: grpc.Channel, wanted: int, seconds: float = 6.0) -> dict[str, int]:
    """Poll both names until they report ``wanted`` (the updater runs once a second)."""
    deadline = time.monotonic() + seconds
    while True:
        seen = {name: health_of(channel, name) for name in ("", SERVICE)}
        if set(seen.values()) == {wanted} or time.monotonic() > deadline:
            return seen
        time.sleep(0.1)


@pytest.mark.parametrize("name", ["", SERVICE])
def test_health_is_serving_when_the_projections_are_caught_up(grpc_api: GrpcApi, name: str) -> None:
    assert grpc_api.service.projection_status()["caught_up"] is True
    assert health_of(grpc_api.channel, name) == SERVING


def test_health_of_an_unknown_service_is_not_found(grpc_api: GrpcApi) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        health_of(grpc_api.channel, "specsvc.v1.NoSuchService")
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.fixture
def file_api(tmp_path: Path, jwt_keys: JwtKeys) -> Iterator[GrpcApi]:
    with served_service("sqlite-file", tmp_path, authenticator(jwt_keys)) as api:
        yield api


def test_health_is_not_serving_while_the_projections_lag_and_recovers(file_api: GrpcApi) -> None:
    assert wait_for_health(file_api.channel, SERVING) == {"": SERVING, SERVICE: SERVING}
    projections = file_api.service.storage_info()["projections"]["database"]
    with sqlite3.connect(projections) as db:
        db.execute(
            "CREATE TRIGGER explode BEFORE INSERT ON spec_summaries WHEN NEW.name='boom'"
            " BEGIN SELECT RAISE(ABORT, 'injected projection failure'); END"
        )
    assert file_api.create("boom").version == 1  # the write commits regardless
    assert wait_for_health(file_api.channel, NOT_SERVING) == {
        "": NOT_SERVING,
        SERVICE: NOT_SERVING,
    }
    with sqlite3.connect(projections) as db:
        db.execute("DROP TRIGGER explode")
    assert file_api.service.catch_up() is True
    assert wait_for_health(file_api.channel, SERVING) == {"": SERVING, SERVICE: SERVING}
