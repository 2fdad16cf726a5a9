"""Client commands that read specs over the REST API: get, list, versions, history."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from specsvc.cli.common import add_command
from specsvc.cli.render import (
    SPEC_COLUMNS,
    VERSION_COLUMNS,
    event_line,
    spec_details,
    table,
)
from specsvc.cli.writes import client_for, show

SPEC_FIELDS = (
    "name", "type", "state", "version", "published_version", "has_unpublished_changes",
    "revision", "created_at", "created_by", "updated_at", "updated_by", "reason", "size",
    "content_sha256",
)  # fmt: skip


def add_read_commands(commands: Any, options: Any) -> None:
    """Register get, list, versions and history."""
    get = add_command(
        commands,
        "get",
        "show a spec now, at a version, or as it stood at an instant",
        [
            "specsvc get signup-rules",
            "specsvc get signup-rules --version 2 --raw > rules-v2.yaml",
            "specsvc get signup-rules --as-of 2024-05-31T12:00:00Z --json",
        ],
        [options],
    )
    get.add_argument("name", metavar="NAME")
    which = get.add_mutually_exclusive_group()
    which.add_argument("--version", type=int, help="the content of one version")
    which.add_argument("--as-of", metavar="RFC3339", help="the spec as it stood at that instant")
    get.add_argument("--raw", action="store_true", help="only the YAML, byte for byte as stored")
    get.set_defaults(handler=_get)

    listing = add_command(
        commands,
        "list",
        "list spec summaries (every page), ordered by name",
        ["specsvc list --state published --type regex-rules", "specsvc list --prefix signup-"],
        [options],
    )
    listing.add_argument("--state", help="draft, published, deprecated or deleted")
    listing.add_argument("--type", dest="spec_type", metavar="TYPE")
    listing.add_argument("--prefix", help="names starting with this")
    listing.set_defaults(handler=_list)

    for name, summary, handler in (
        ("versions", "list every version of a spec", _versions),
        ("history", "list every event of a spec, oldest first", _history),
    ):
        parser = add_command(commands, name, summary, [f"specsvc {name} signup-rules"], [options])
        parser.add_argument("name", metavar="NAME")
        parser.set_defaults(handler=handler)


def _get(args: argparse.Namespace) -> int:
    client = client_for(args)
    if args.raw and args.version is not None:
        return _write_raw(client.get_version_yaml(args.name, args.version))
    if args.version is not None:
        spec = {"name": args.name, **client.get_version(args.name, args.version)}
    else:
        spec = client.get(args.name, as_of=args.as_of)
    if args.raw:
        return _write_raw(spec["content"].encode("utf-8"))
    return show(args, spec, lambda: spec_details(spec, SPEC_FIELDS))


def _write_raw(data: bytes) -> int:
    # Bytes straight to the buffer: no newline translation, no encoding, nothing added.
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0


def _list(args: argparse.Namespace) -> int:
    filters = {"state": args.state, "type": args.spec_type, "name_prefix": args.prefix}
    specs = list(client_for(args).iter_specs(**filters))
    listed = {"specs": specs, "next_page_token": None}
    return show(args, listed, lambda: table(specs, SPEC_COLUMNS))


def _versions(args: argparse.Namespace) -> int:
    versions = client_for(args).versions(args.name)
    return show(args, versions, lambda: table(versions["versions"], VERSION_COLUMNS))


def _history(args: argparse.Namespace) -> int:
    history = client_for(args).history(args.name)
    return show(args, history, lambda: "\n".join(map(event_line, history["events"])))
