"""Client commands that change specs over the REST API: create, update, publish, ...

Each prints a one-line result (``--json``: the spec the server returned); errors and
exit codes are those of ``specsvc.cli.common``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from specsvc.cli.common import add_command
from specsvc.cli.io import print_json, read_local, utf8_text
from specsvc.cli.positions import PositionMemory
from specsvc.cli.render import command_result
from specsvc.cli.rest_client import SpecClient


def client_for(args: argparse.Namespace) -> SpecClient:
    """A client whose reads see this user's last write to the server (positions.py)."""
    return SpecClient(
        args.url, args.token, min_position=args.min_position, memory=PositionMemory()
    )


def show(args: argparse.Namespace, data: Any, human: Callable[[], str]) -> int:
    """Print ``data`` as JSON with ``--json``, else its human rendering; exit 0."""
    if args.json_output:
        print_json(data)
    else:
        print(human())
    return 0


def add_write_commands(commands: Any, options: Any) -> None:
    """Register create, update, publish, deprecate and delete."""
    create = add_command(
        commands,
        "create",
        "create a spec from a file or standard input",
        [
            "specsvc create signup-rules --type regex-rules --file rules.yaml",
            "cat rules.yaml | specsvc create signup-rules --type regex-rules --reason 'first'",
        ],
        [options],
    )
    create.add_argument("name", metavar="NAME")
    create.add_argument(
        "--type", required=True, dest="spec_type", metavar="TYPE", help="a registered spec type"
    )
    _content_options(create, reason_required=False)
    create.set_defaults(handler=_create)

    update = add_command(
        commands,
        "update",
        "write a new version of a spec's content",
        ["specsvc update signup-rules --file rules.yaml --reason 'block example.org'"],
        [options],
    )
    update.add_argument("name", metavar="NAME")
    _content_options(update, reason_required=True)
    update.add_argument("--expected-version", type=int, help="fail unless this is the latest")
    update.set_defaults(handler=_update)

    publish = add_command(
        commands,
        "publish",
        "publish the latest version, or roll back/forward to --version",
        [
            "specsvc publish signup-rules --reason reviewed",
            "specsvc publish x --version 2 --reason rollback",
        ],
        [options],
    )
    publish.add_argument("name", metavar="NAME")
    publish.add_argument("--reason", required=True)
    publish.add_argument("--version", type=int, help="the version to serve (default: latest)")
    publish.set_defaults(handler=_publish)

    for verb, summary in (("deprecate", "deprecate a published spec"), ("delete", "delete a spec")):
        parser = add_command(
            commands, verb, summary, [f"specsvc {verb} signup-rules --reason 'replaced'"], [options]
        )
        parser.add_argument("name", metavar="NAME")
        parser.add_argument("--reason", required=True)
        parser.set_defaults(handler=_state_change, verb=verb)


def _content_options(parser: argparse.ArgumentParser, *, reason_required: bool) -> None:
    parser.add_argument(
        "--file", metavar="FILE", help="YAML content; '-' or omitted reads standard input"
    )
    parser.add_argument("--reason", required=reason_required, help="why (recorded in the event)")


def _content(args: argparse.Namespace) -> str:
    return utf8_text(read_local(args.file), "the content")


def _create(args: argparse.Namespace) -> int:
    client = client_for(args)
    content = _content(args)
    client.get_type(args.spec_type)  # an unknown type is TypeNotFound here, as for validate
    spec = client.create(args.name, args.spec_type, content, reason=args.reason)
    return show(args, spec, lambda: command_result("created", spec))


def _update(args: argparse.Namespace) -> int:
    spec = client_for(args).update(
        args.name, _content(args), reason=args.reason, expected_version=args.expected_version
    )
    return show(args, spec, lambda: command_result("updated", spec))


def _publish(args: argparse.Namespace) -> int:
    spec = client_for(args).publish(args.name, reason=args.reason, version=args.version)
    return show(args, spec, lambda: command_result("published", spec))


def _state_change(args: argparse.Namespace) -> int:
    command = getattr(client_for(args), args.verb)
    spec = command(args.name, reason=args.reason)
    return show(args, spec, lambda: command_result(f"{args.verb}d", spec))
