"""What every ``specsvc`` command shares: exit codes, options, help, error reports.

Exit codes of every command:

  0  ok
  1  verify, import or migrate found differences, or the store is corrupted
     (StoreCorrupted: run specsvc verify)
  2  usage or configuration error (bad arguments, unreadable local file, a setting
     that cannot work, a --url that is not the Spec Service REST API)
  3  invalid input: BadRequest, ValidationError, PayloadTooLarge, UnsupportedMediaType
  4  not found: SpecNotFound, SpecNotPublished, VersionNotFound, TypeNotFound, SpecDeleted,
     or a store that does not exist
  5  conflict: SpecAlreadyExists, InvalidStateTransition, VersionMismatch,
     PreconditionFailed, an import or a migration into a store that is not empty,
     or a backup over an existing file
  6  auth: Unauthenticated, PermissionDenied, SeparationOfDuties
  7  server error, or the server or store is unavailable
  130 interrupted (Ctrl-C); watch and serve stop with 0 instead

With --json, results are JSON on standard output and an error is one JSON object
{"error": {"code", "message", "details"}} on standard error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from specsvc.errors import SpecServiceError, ValidationError

EXIT_OK, EXIT_DIFFERENCES, EXIT_USAGE, EXIT_INVALID = 0, 1, 2, 3
EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_AUTH, EXIT_SERVER = 4, 5, 6, 7
EXIT_INTERRUPTED = 130

EXIT_BY_CODE = {
    **dict.fromkeys(
        ["BadRequest", "ValidationError", "PayloadTooLarge", "UnsupportedMediaType"], EXIT_INVALID
    ),
    **dict.fromkeys(
        ["SpecNotFound", "SpecNotPublished", "VersionNotFound", "TypeNotFound", "SpecDeleted"],
        EXIT_NOT_FOUND,
    ),
    "NotFound": EXIT_NOT_FOUND,  # a path the server does not route, e.g. a name with a slash
    "StoreNotFound": EXIT_NOT_FOUND,
    **dict.fromkeys(
        ["SpecAlreadyExists", "InvalidStateTransition", "VersionMismatch", "PreconditionFailed"],
        EXIT_CONFLICT,
    ),
    "UsageError": EXIT_USAGE,
    "ConfigurationError": EXIT_USAGE,
    "StoreNotEmpty": EXIT_CONFLICT,
    "StoreCorrupted": EXIT_DIFFERENCES,
    "DestinationExists": EXIT_CONFLICT,
    **dict.fromkeys(["Unauthenticated", "PermissionDenied", "SeparationOfDuties"], EXIT_AUTH),
}

DEFAULT_URL = "http://127.0.0.1:8080"

EXIT_CODES_HELP = "exit codes:\n" + "\n".join(
    line for line in __doc__.split("Exit codes of every command:\n\n")[1].splitlines() if line
)


def global_options(*, on_command: bool, client: bool = True) -> argparse.ArgumentParser:
    """``--json`` (and ``--url``, ``--token``, ``--grpc-url``), before or after the command.

    On a command's parser they default to SUPPRESS, so that a value given before the
    command is not overwritten by the command parser's default.
    """
    options = argparse.ArgumentParser(add_help=False)

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if on_command else value

    if client:
        options.add_argument(
            "--url",
            default=default(os.environ.get("SPECSVC_URL") or DEFAULT_URL),
            help=f"REST API base URL (SPECSVC_URL; default {DEFAULT_URL})",
        )
        options.add_argument(
            "--token",
            default=default(os.environ.get("SPECSVC_TOKEN") or None),
            help="bearer token (SPECSVC_TOKEN)",
        )
        options.add_argument(
            "--min-position",
            type=int,
            default=default(_position_from_environment()),
            metavar="N",
            help="reads wait until the server's read models hold this log position (a"
            " write's position; SPECSVC_MIN_POSITION). Without it, reads ask for the"
            " position of your last write to that server, kept in"
            " $SPECSVC_STATE_DIR/positions.json",
        )
        options.add_argument(
            "--grpc-url",
            default=default(os.environ.get("SPECSVC_GRPC_URL") or None),
            metavar="HOST:PORT",
            help="gRPC API address: watch streams from it instead of polling REST"
            " (SPECSVC_GRPC_URL)",
        )
    options.add_argument(
        "--json",
        action="store_true",
        dest="json_output",
        default=default(False),
        help="machine output: JSON instead of text",
    )
    return options


def _position_from_environment() -> int | None:
    raw = os.environ.get("SPECSVC_MIN_POSITION")
    if not raw:
        return None
    if not raw.isdecimal():
        raise ValueError(f"SPECSVC_MIN_POSITION={raw!r} is not a log position (an integer)")
    return int(raw)


def epilog(*examples: str) -> str:
    """An ``--help`` epilog: the examples, then the exit codes."""
    return "examples:\n" + "".join(f"  {e}\n" for e in examples) + "\n" + EXIT_CODES_HELP


def add_command(
    commands: Any, name: str, summary: str, examples: list[str], parents: list[Any]
) -> argparse.ArgumentParser:
    """A sub-command parser whose ``--help`` ends with examples and the exit codes."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=epilog(*examples),
        parents=parents,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def exit_code(error: SpecServiceError) -> int:
    return EXIT_BY_CODE.get(error.code, EXIT_SERVER)


def report_error(error: SpecServiceError, *, as_json: bool = False) -> None:
    """On stderr: ``CODE: message`` then each validation problem as ``path: message``;
    with ``as_json``, one JSON object ``{"error": {"code", "message", "details"}}``."""
    if as_json:
        text = json.dumps({"error": error.to_dict()}, ensure_ascii=False, default=str)
        print(text, file=sys.stderr)
        return
    print(f"{error.code}: {error.message}", file=sys.stderr)
    if isinstance(error, ValidationError) or error.code == "ValidationError":
        for problem in error.details.get("errors", []):
            print(f"  {problem.get('path') or '/'}: {problem.get('message')}", file=sys.stderr)
