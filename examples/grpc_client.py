"""Talk to the gRPC API through the generated stubs (grpc_api.protos.specsvc.v1).

    python examples/grpc_client.py --addr HOST:PORT [--token TOKEN] [--name NAME]

--addr HOST:PORT  where `specsvc serve --grpc-addr ...` listens, e.g. 127.0.0.1:50051
--token TOKEN     a bearer token, sent as `authorization: Bearer TOKEN` metadata;
                  omit it when the server runs without authentication
--name NAME       the spec's name; default signup-rules-grpc-<random suffix>

It creates a spec from examples/specs/regex-rules.yaml, publishes it, reads the
published version, evaluates a sign-up (the input is a google.protobuf.Struct) and
lists the spec's events. Errors carry the error code as the `reason` of a
google.rpc.ErrorInfo in the rich status; the example shows how to read it.
Exit status: 0 on success, 1 on an RPC error, 2 when the server is unreachable.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

import grpc
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from grpc_api.protos.specsvc.v1 import spec_service_pb2_grpc

RULES = Path(__file__).parent / "specs" / "regex-rules.yaml"
TIMEOUT = 15  # seconds per call: always set a deadline on RPCs
CONNECT_TIMEOUT = 5


def error_reason(error: grpc.RpcError) -> str:
    """The error code (e.g. "SpecNotFound") from the status' ErrorInfo detail."""
    status = rpc_status.from_call(error)  # None when the status has no rich details
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return "?"


def describe(error: grpc.RpcError) -> str:
    return f"{error.code().name} {error_reason(error)}: {error.details()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", required=True, help="HOST:PORT of the gRPC API")
    parser.add_argument("--token", help="bearer token")
    parser.add_argument("--name", help="spec name (default: a fresh one)")
    args = parser.parse_args()
    name = args.name or f"signup-rules-grpc-{secrets.token_hex(3)}"
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []
    with grpc.insecure_channel(args.addr) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=CONNECT_TIMEOUT)
        except grpc.FutureTimeoutError:
            print(f"error: cannot reach {args.addr}", file=sys.stderr)
            return 2
        try:
            tour(spec_service_pb2_grpc.SpecServiceStub(channel), metadata, name)
        except grpc.RpcError as error:
            print(f"error: {describe(error)}", file=sys.stderr)
            return 1
    return 0


def tour(stub: spec_service_pb2_grpc.SpecServiceStub, metadata: list, name: str) -> None:
    options = {"metadata": metadata, "timeout": TIMEOUT}
    request = pb.CreateSpecRequest(
        name=name, type="regex-rules", content=RULES.read_text("utf-8"), reason="first draft"
    )
    spec = stub.CreateSpec(request, **options)
    print(f"created {spec.name} v{spec.version} ({spec.state}) by {spec.created_by}")
    # Reads carry the position of our last write: behind a load balancer another
    # instance answers them only once its read models hold that write.
    reads = {**options, "metadata": [*metadata, ("x-min-position", str(spec.position))]}

    try:
        stub.GetPublishedSpec(pb.GetPublishedSpecRequest(name=name), **reads)
    except grpc.RpcError as error:  # never published yet: NOT_FOUND, reason SpecNotPublished
        print(f"expected error: {describe(error)}")

    spec = stub.PublishSpec(pb.PublishSpecRequest(name=name, reason="reviewed"), **options)
    print(f"published v{spec.published_version} at log position {spec.position}")
    reads = {**options, "metadata": [*metadata, ("x-min-position", str(spec.position))]}

    served = stub.GetPublishedSpec(pb.GetPublishedSpecRequest(name=name), **reads)
    print(f"consumers are served v{served.version} ({served.state}), {len(served.content)} chars")

    applicant = struct_pb2.Struct()  # a JSON object; numbers in a Struct are doubles
    applicant.update({"email": "ann@acme.io", "country": "NL", "invite_code": "INV-000042"})
    outcome = stub.EvaluateSpec(pb.EvaluateSpecRequest(name=name, input=applicant), **reads)
    # The trace lists every node in document order; leaves have op "match".
    matched = [step.field for step in outcome.trace if step.op == "match" and step.result]
    print(f"evaluate ann@acme.io: {outcome.result} (v{outcome.version}), matched: {matched}")

    events = stub.ListEvents(pb.ListEventsRequest(spec=name), **reads)
    for event in events.events:
        change = f" {event.from_state}->{event.to_state}" if event.HasField("to_state") else ""
        print(f"  #{event.position} {event.event}{change} by {event.actor}: {event.reason}")


if __name__ == "__main__":
    sys.exit(main())
