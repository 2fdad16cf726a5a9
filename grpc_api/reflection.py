"""Server reflection under both of its names: ``grpc.reflection.v1`` and ``v1alpha``.

grpcio-reflection implements only v1alpha. v1 is the same protocol under a new package:
the same messages with the same field numbers. So one v1alpha servicer answers both, its
messages being byte for byte what a v1 client sends and expects. The v1 descriptor is
made from the v1alpha one and registered, so that reflection describes itself under
either name.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1_PACKAGE = "grpc.reflection.v1"
V1_SERVICE = f"{V1_PACKAGE}.ServerReflection"
V1_FILE = "grpc/reflection/v1/reflection.proto"  # where upstream keeps it
SERVICE_NAMES = (V1_SERVICE, reflection.SERVICE_NAME)


def enable_reflection(server: grpc.Server, service_names: Iterable[str]) -> None:
    """Offer reflection of ``service_names`` and of itself, under v1 and v1alpha."""
    _register_v1_descriptor()
    servicer = reflection.ReflectionServicer((*service_names, *SERVICE_NAMES))
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    info = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    handler = grpc.method_handlers_generic_handler(V1_SERVICE, {"ServerReflectionInfo": info})
    server.add_generic_rpc_handlers((handler,))


def _register_v1_descriptor() -> None:
    pool = descriptor_pool.Default()
    try:
        pool.FindServiceByName(V1_SERVICE)
        return  # registered by an earlier server, or by a library that has it
    except KeyError:
        pass
    pool.AddSerializedFile(_v1_file().SerializeToString())


def _v1_file() -> descriptor_pb2.FileDescriptorProto:
    """The v1alpha file descriptor, moved to v1's package, file and options."""
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    old, new = f".{proto.package}.", f".{V1_PACKAGE}."
    proto.name, proto.package = V1_FILE, V1_PACKAGE
    for message in proto.message_type:
        for field in message.field:
            if field.type_name:  # assigning one, even "", would give a scalar a type name
                field.type_name = field.type_name.replace(old, new)
    for method in proto.service[0].method:
        method.input_type = method.input_type.replace(old, new)
        method.output_type = method.output_type.replace(old, new)
    proto.options.java_package = "io.grpc.reflection.v1"
    proto.options.go_package = "google.golang.org/grpc/reflection/grpc_reflection_v1"
    proto.options.ClearField("deprecated")  # v1alpha is deprecated in favour of v1
    return proto
