"""The ``specsvc`` command line: the server, a REST client, and operator tools.

Exit codes are listed in ``specsvc.cli.common`` and at the end of every ``--help``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import argcomplete
from eventsourcing.persistence import PersistenceError

from specsvc.cli.common import (
    EXIT_CODES_HELP,
    EXIT_INTERRUPTED,
    EXIT_SERVER,
    exit_code,
    global_options,
    report_error,
)
from specsvc.cli.completion import add_completion_command
from specsvc.cli.examine import add_inspect_commands
from specsvc.cli.io import UsageError
from specsvc.cli.local import add_local_commands
from specsvc.cli.operator import add_operator_commands
from specsvc.cli.project import add_project_command
from specsvc.cli.reads import add_read_commands
from specsvc.cli.serve import add_serve_command
from specsvc.cli.token import add_token_command
from specsvc.cli.watch import add_watch_command
from specsvc.cli.writes import add_write_commands
from specsvc.errors import SpecServiceError, Unavailable


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors raised as ``UsageError`` so they report like the rest."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}", details={"usage": self.format_usage()})


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    parser = build_parser()
    argcomplete.autocomplete(parser)  # answers and exits when the shell asks for completions
    try:
        args = parser.parse_args(argv)
        return int(args.handler(args))
    except SystemExit as stop:  # --help or --version (0), already printed
        return stop.code if isinstance(stop.code, int) else 0
    except UsageError as error:
        if not as_json and "usage" in error.details:
            sys.stderr.write(error.details["usage"])
        report_error(_without_usage(error), as_json=as_json)
        return exit_code(error)
    except SpecServiceError as error:
        report_error(error, as_json=as_json)
        return exit_code(error)
    except PersistenceError as error:  # a database that cannot be reached, or fails
        message = " ".join(str(error).split())  # psycopg spreads its reasons over lines
        report_error(Unavailable(f"the store cannot be used: {message}"), as_json=as_json)
        return EXIT_SERVER
    except ValueError as error:  # a SPECSVC_* variable that does not parse
        report_error(UsageError(str(error)), as_json=as_json)
        return exit_code(UsageError(""))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): nothing is wrong, and nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def build_parser() -> argparse.ArgumentParser:
    from specsvc import __version__

    parser = Parser(
        prog="specsvc",
        description="The specsvc command line: the server, a REST client, and operator tools.",
        epilog=EXIT_CODES_HELP,
        parents=[global_options(on_command=False)],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"specsvc {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    client = global_options(on_command=True)
    local = global_options(on_command=True, client=False)
    add_write_commands(commands, client)
    add_read_commands(commands, client)
    add_inspect_commands(commands, client)
    add_watch_command(commands, client)
    add_operator_commands(commands, local)
    add_serve_command(commands, local)
    add_project_command(commands, local)
    add_token_command(commands, local)
    add_local_commands(commands, local)
    add_completion_command(commands, local)
    return parser


def _without_usage(error: UsageError) -> UsageError:
    details = {k: v for k, v in error.details.items() if k != "usage"}
    return UsageError(error.message, details=details)
