"""A tiny grpcurl: call any unary RPC by name, with no generated code at all.

    python examples/grpc_reflection_call.py --addr HOST:PORT --list
    python examples/grpc_reflection_call.py --addr HOST:PORT [--token TOKEN] METHOD [JSON]

--addr HOST:PORT   where `specsvc serve --grpc-addr ...` listens
--list             print the server's services and the methods of --service, then exit
--token TOKEN      a bearer token for the call (reflection itself needs none)
--service NAME     the service METHOD belongs to (default: specsvc.v1.SpecService)
METHOD             a method name such as ListSpecs, or SERVICE/METHOD, for example
                   grpc.health.v1.Health/Check
JSON               the request message as JSON (default: {}), field names as in the .proto

Examples:
    python examples/grpc_reflection_call.py --addr 127.0.0.1:50051 ListSpecs '{}'
    python examples/grpc_reflection_call.py --addr 127.0.0.1:50051 \\
        GetSpec '{"name": "signup-rules"}'

The client asks the server's reflection service for the .proto descriptors, builds
the message classes from them at run time, and converts JSON to and from protobuf.
It prints the response as JSON. Exit status: 0 on success, 1 when the call fails
(printing the status code and the ErrorInfo reason), 2 on bad usage or no server.
"""

from __future__ import annotations

import argparse
import json
import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.rpc import error_details_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from grpc_status import rpc_status

TIMEOUT = 15


class Failure(Exception):
    """Ends the program with a message on stderr and a non-zero exit status."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(message)
        self.status = status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", required=True, help="HOST:PORT of the gRPC server")
    parser.add_argument("--token", help="bearer token")
    parser.add_argument("--service", default="specsvc.v1.SpecService")
    parser.add_argument("--list", action="store_true", help="list services and methods")
    parser.add_argument("method", nargs="?", help="METHOD or SERVICE/METHOD")
    parser.add_argument("request", nargs="?", default="{}", help="request as JSON")
    args = parser.parse_args()
    if not args.list and not args.method:
        parser.error("give METHOD (and optionally its JSON request), or --list")
    try:
        with grpc.insecure_channel(args.addr) as channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=5)
            except grpc.FutureTimeoutError:
                raise Failure(f"cannot reach {args.addr}") from None
            # Descriptors are fetched lazily, file by file, as the pool is asked for symbols.
            database = ProtoReflectionDescriptorDatabase(channel)
            pool = descriptor_pool.DescriptorPool(database)
            if args.list:
                list_services(database, pool, args.service)
            else:
                call(channel, pool, args)
    except Failure as failure:
        print(f"error: {failure}", file=sys.stderr)
        return failure.status
    return 0


def list_services(
    database: ProtoReflectionDescriptorDatabase, pool: descriptor_pool.DescriptorPool, service: str
) -> None:
    for name in database.get_services():
        print(name)
    for method in find_service(pool, service).methods:
        streaming = " (server streaming)" if method.server_streaming else ""
        print(f"  {method.name}({method.input_type.name}) -> {method.output_type.name}{streaming}")


def call(
    channel: grpc.Channel, pool: descriptor_pool.DescriptorPool, args: argparse.Namespace
) -> None:
    service_name, _, method_name = args.method.rpartition("/")
    service = find_service(pool, service_name or args.service)
    method = service.methods_by_name.get(method_name)
    if method is None:
        raise Failure(f"{service.full_name} has no method {method_name!r}")
    if method.client_streaming or method.server_streaming:
        raise Failure(f"{method.name} is a streaming RPC; this client calls unary ones only")
    # Message classes made at run time from the reflected descriptors.
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    try:
        request = json_format.Parse(args.request, request_class())
    except json_format.ParseError as error:
        raise Failure(f"request is not a valid {method.input_type.full_name}: {error}") from None
    rpc = channel.unary_unary(
        f"/{service.full_name}/{method.name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []
    try:
        response = rpc(request, metadata=metadata, timeout=TIMEOUT)
    except grpc.RpcError as error:
        raise Failure(f"{error.code().name} {reason_of(error)}: {error.details()}", 1) from None
    # Like the .proto's field names, and with false/0/"" fields shown rather than left out.
    text = json_format.MessageToJson(
        response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    print(text)


def find_service(pool: descriptor_pool.DescriptorPool, name: str) -> ServiceDescriptor:
    try:
        return pool.FindServiceByName(name)
    except KeyError:
        raise Failure(f"the server does not offer {name!r} (try --list)") from None


def reason_of(error: grpc.RpcError) -> str:
    """The error code that the server put in the status' ErrorInfo, if any."""
    status = rpc_status.from_call(error)
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return f"{info.reason} {json.dumps(dict(info.metadata))}"
    return "(no ErrorInfo)"


if __name__ == "__main__":
    sys.exit(main())
