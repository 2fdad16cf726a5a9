"""The ``specsvc`` command line: the server, a REST client, and operator tools.

Exit codes are listed in ``specsvc.cli.common`` and at the end of every ``--help``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from specsvc.cli.common import (
    EXIT_CODES_HELP,
    EXIT_INTERRUPTED,
    exit_code,
    global_options,
    report_error,
)
from specsvc.cli.examine import add_inspect_commands
from specsvc.cli.local import add_local_commands
from specsvc.cli.operator import add_operator_commands
from specsvc.cli.reads import add_read_commands
from specsvc.cli.serve import add_serve_command
from specsvc.cli.token import add_token_command
from specsvc.cli.watch import add_watch_command
from specsvc.cli.writes import add_write_commands
from specsvc.errors import SpecServiceError


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a usage error (2), already printed
        return stop.code if isinstance(stop.code, int) else 2
    try:
        return int(args.handler(args))
    except SpecServiceError as error:
        report_error(error)
        return exit_code(error)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): nothing is wrong, and nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="specsvc",
        description="The specsvc command line: the server, a REST client, and operator tools.",
        epilog=EXIT_CODES_HELP,
        parents=[global_options(on_command=False)],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    client = global_options(on_command=True)
    add_write_commands(commands, client)
    add_read_commands(commands, client)
    add_inspect_commands(commands, client)
    add_watch_command(commands, client)
    add_operator_commands(commands, global_options(on_command=True, client=False))
    add_serve_command(commands)
    add_token_command(commands)
    add_local_commands(commands)
    return parser

