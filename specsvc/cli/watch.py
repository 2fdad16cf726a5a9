"""``specsvc watch``: follow the audit log, live over gRPC or by polling REST.

With ``--grpc-url`` the events come from the ``WatchEvents`` stream
(``specsvc.cli.grpc_watch``); without it, from polling ``GET /v1/events?after=``.
Both print the same lines.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from specsvc.cli.common import add_command
from specsvc.cli.grpc_watch import Events, follow
from specsvc.cli.render import event_line
from specsvc.cli.rest_client import PAGE_SIZE, SpecClient
from specsvc.cli.writes import client_for

DEFAULT_INTERVAL = 0.5


def add_watch_command(commands: Any, options: Any) -> None:
    watch = add_command(
        commands,
        "watch",
        "follow the audit log: one line per event as it commits; Ctrl-C stops (exit 0)",
        [
            "specsvc watch",
            "specsvc watch --grpc-url 127.0.0.1:50051 --spec signup-rules",
            "specsvc watch --after 0 --spec signup-rules --json",
            "specsvc watch --type regex-rules --max-events 1",
        ],
        [options],
    )
    watch.add_argument(
        "--after", type=int, metavar="N", help="start after this position (default: from now)"
    )
    watch.add_argument("--spec", action="append", metavar="NAME", help="only these specs")
    watch.add_argument(
        "--type", action="append", dest="types", metavar="TYPE", help="only specs of these types"
    )
    watch.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help="REST polling interval (not used with --grpc-url)",
    )
    watch.add_argument("--max-events", type=int, metavar="N", help="stop after N events")
    watch.set_defaults(handler=watch_events)


def watch_events(args: argparse.Namespace) -> int:
    """Print matching events until Ctrl-C or ``--max-events``; 0 either way."""
    if args.max_events is not None and args.max_events <= 0:
        return 0
    with _ctrl_c_stops():
        events = _grpc_events(args) if args.grpc_url else _rest_events(args)
        with closing(events):
            for count, event in enumerate(events, start=1):
                # Flushed per line, so that a pipe (| grep, | jq) sees each event as it comes.
                print(json.dumps(event) if args.json_output else event_line(event), flush=True)
                if count == args.max_events:
                    break
    return 0


@contextmanager
def _ctrl_c_stops() -> Iterator[None]:
    """Ctrl-C ends the block quietly, even when SIGINT was inherited as ignored."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _grpc_events(args: argparse.Namespace) -> Events:
    return follow(
        args.grpc_url,
        args.token,
        after=args.after,
        names=args.spec or [],
        types=args.types or [],
    )


def _rest_events(args: argparse.Namespace) -> Events:
    client = client_for(args)
    after = args.after if args.after is not None else _head(client)
    wanted = _Filter(client, args.spec, args.types)
    while True:
        page = client.events(after=after, spec=wanted.server_side_spec)
        yield from filter(wanted, page["events"])
        after = page["next_after"]
        if len(page["events"]) < PAGE_SIZE:
            time.sleep(args.interval)


def _head(client: SpecClient) -> int:
    # The API has no "latest position" query: page quickly to the end of the log.
    after = 0
    while True:
        page = client.events(after=after)
        after = page["next_after"]
        if len(page["events"]) < PAGE_SIZE:
            return int(after)


class _Filter:
    # One name is filtered by the server, several here; a type needs each spec's lookup.

    def __init__(self, client: SpecClient, names: list[str] | None, types: list[str] | None):
        self.client = client
        self.names = set(names or ())
        self.types = set(types or ())
        self.server_side_spec = names[0] if names and len(self.names) == 1 else None
        self.type_of: dict[str, str] = {}

    def __call__(self, event: dict[str, Any]) -> bool:
        if self.names and event["spec"] not in self.names:
            return False
        return not self.types or self._type(event["spec"]) in self.types

    def _type(self, name: str) -> str:
        if name not in self.type_of:
            self.type_of[name] = self.client.get(name)["type"]
        return self.type_of[name]
