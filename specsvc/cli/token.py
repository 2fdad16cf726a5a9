"""``specsvc token new``: make a bearer token and the tokens-file entry for it."""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from specsvc.auth import ROLES, new_token, token_entry
from specsvc.cli.common import EXIT_CODES_HELP
from specsvc.cli.io import UsageError, print_json

EXAMPLE = "specsvc token new --name alice --role author --role publisher"
EPILOG = f"""\
example:
  {EXAMPLE}

The first line of output is the token: give it to its holder now, it is not kept.
The rest is the entry to add under 'tokens:' in the tokens file (SPECSVC_AUTH_TOKENS_FILE).
With --json: {{"token": ..., "entry": {{"principal", "sha256", "roles"}}}}.

{EXIT_CODES_HELP}
"""


def add_token_command(commands: Any, options: Any) -> None:
    """Register ``token new`` on the ``specsvc`` sub-command parser."""
    token = commands.add_parser(
        "token",
        help="manage bearer tokens",
        description="Manage bearer tokens.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[options],
    )
    actions = token.add_subparsers(required=True, metavar="ACTION")
    new = actions.add_parser(
        "new",
        help="make a new random token for a principal",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[options],
    )
    new.add_argument("--name", required=True, help="principal recorded as the actor")
    new.add_argument(
        "--role",
        required=True,
        action="append",
        choices=ROLES,
        dest="roles",
        metavar="ROLE",
        help=f"one of {', '.join(ROLES)}; repeat for several",
    )
    new.set_defaults(handler=new_token_command)


def new_token_command(args: argparse.Namespace) -> int:
    """Print the token alone on the first line, then its YAML entry."""
    token, digest = new_token()
    try:
        entry = token_entry(args.name, args.roles, digest)
    except ValueError as error:
        raise UsageError(f"specsvc token new: {error}") from None
    if getattr(args, "json_output", False):
        (fields,) = yaml.safe_load(entry)
        print_json({"token": token, "entry": fields})
        return 0
    print(token)
    print(entry, end="")
    return 0
