"""A consumer that keeps published specs in memory and reloads them as they change.

    python examples/consumer_watch.py --addr HOST:PORT [--token TOKEN]
                                      [--names a,b] [--stop-after N]

--addr HOST:PORT  where `specsvc serve --grpc-addr ...` listens
--token TOKEN     a bearer token with the reader role (omit it without authentication)
--names a,b       follow only these specs (default: every spec)
--stop-after N    exit 0 after N reloads (default: run until Ctrl-C)

How it stays current without polling and without missing a change:
1. note the end of the global event log (ListEvents, paging to the last position);
2. load every spec that consumers are served (ListSpecs + GetPublishedSpec);
3. stream WatchEvents(after=that position): each SpecStateChanged to published or
   deprecated reloads the spec's published content; a delete drops it;
4. when the stream ends or the server becomes UNAVAILABLE, reconnect with the last
   position handled, so nothing committed in between is missed.
Step 1 comes before step 2: a change made while loading is then seen twice (a
harmless reload) rather than not at all. Prints `loaded NAME vN` for the initial load,
`watching after position P` once streaming, and `reloaded NAME vN` for each reload.
Exit status: 0 on Ctrl-C or after --stop-after reloads, 1 on an RPC error that
reconnecting cannot fix (e.g. a bad token), 2 when the server is unreachable at start.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from grpc_api.protos.specsvc.v1 import spec_service_pb2_grpc

TIMEOUT = 15
SERVED_STATES = ("published", "deprecated")  # deprecated specs are still served
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
MAX_BACKOFF = 5.0


class Consumer:
    def __init__(
        self, stub: spec_service_pb2_grpc.SpecServiceStub, token: str | None, names: set[str]
    ):
        self.stub = stub
        self.metadata = [("authorization", f"Bearer {token}")] if token else []
        self.names = names  # empty: follow every spec
        self.specs: dict[str, pb.PublishedSpec] = {}  # the in-memory copy
        self.last = 0  # the last log position fully handled
        self.reloads = 0

    def call(self, rpc: str, request: Message) -> Any:
        return getattr(self.stub, rpc)(request, metadata=self.metadata, timeout=TIMEOUT)

    def start(self) -> None:
        self.last = self.log_end()
        for state in SERVED_STATES:
            for name in self.spec_names(state):
                if not self.names or name in self.names:
                    self.load(name, "loaded")
        print(f"watching after position {self.last}", flush=True)

    def log_end(self) -> int:
        after = 0
        while True:
            page = self.call("ListEvents", pb.ListEventsRequest(after=after, limit=500))
            if not page.events:
                return after
            after = page.next_after

    def spec_names(self, state: str) -> list[str]:
        names, token = [], ""
        while True:
            request = pb.ListSpecsRequest(state=state, limit=500, page_token=token)
            page = self.call("ListSpecs", request)
            names += [summary.name for summary in page.specs]
            token = page.next_page_token
            if not token:
                return names

    def load(self, name: str, verb: str) -> bool:
        try:
            spec = self.call("GetPublishedSpec", pb.GetPublishedSpecRequest(name=name))
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
            # Deleted (or gone from served) since the event: nothing to serve.
            self.drop(name)
            return False
        self.specs[name] = spec
        print(f"{verb} {name} v{spec.version} ({spec.state})", flush=True)
        return True

    def drop(self, name: str) -> None:
        if self.specs.pop(name, None) is not None:
            print(f"dropped {name}", flush=True)

    def handle(self, event: pb.Event) -> None:
        if event.event == "SpecStateChanged" and event.to_state in SERVED_STATES:
            self.reloads += self.load(event.spec, "reloaded")
        elif event.event == "SpecStateChanged" and event.to_state == "deleted":
            self.drop(event.spec)
        # SpecCreated and SpecUpdated change drafts only: consumers see nothing new.
        self.last = event.position  # only now is the event handled

    def watch(self, stop_after: int | None) -> None:
        backoff = 0.5
        while stop_after is None or self.reloads < stop_after:
            request = pb.WatchEventsRequest(after=self.last, names=sorted(self.names))
            try:
                # No deadline: the stream is meant to stay open.
                for event in self.stub.WatchEvents(request, metadata=self.metadata):
                    self.handle(event)
                    backoff = 0.5
                    if stop_after is not None and self.reloads >= stop_after:
                        return
                reason = "the server ended the stream"
            except grpc.RpcError as error:
                if error.code() not in RETRYABLE:
                    raise
                reason = f"{error.code().name}: {error.details()}"
            print(f"reconnecting after position {self.last} ({reason})", flush=True)
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", required=True, help="HOST:PORT of the gRPC API")
    parser.add_argument("--token", help="bearer token")
    parser.add_argument("--names", default="", help="comma-separated spec names")
    parser.add_argument("--stop-after", type=int, help="exit after this many reloads")
    args = parser.parse_args()
    names = {name.strip() for name in args.names.split(",") if name.strip()}
    with grpc.insecure_channel(args.addr) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
        except grpc.FutureTimeoutError:
            print(f"error: cannot reach {args.addr}", file=sys.stderr)
            return 2
        consumer = Consumer(spec_service_pb2_grpc.SpecServiceStub(channel), args.token, names)
        try:
            consumer.start()
            consumer.watch(args.stop_after)
        except grpc.RpcError as error:
            print(f"error: {describe(error)}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            pass
    print(f"done: {consumer.reloads} reloads, {len(consumer.specs)} specs in memory")
    return 0


def describe(error: grpc.RpcError) -> str:
    """Status, error code (the ErrorInfo reason of the rich status) and message."""
    status = rpc_status.from_call(error)  # None when the status has no rich details
    reason = "?"
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            reason = info.reason
    return f"{error.code().name} {reason}: {error.details()}"


if __name__ == "__main__":
    sys.exit(main())
