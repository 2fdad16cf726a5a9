"""The ``specsvc`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from specsvc.config import Settings
from specsvc.errors import SpecServiceError
from specsvc.serve import add_serve_command
from specsvc.tokens_cli import add_token_command

EXIT_INVALID = 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except SpecServiceError as error:
        print(f"{error.code}: {error.message}", file=sys.stderr)
        return EXIT_INVALID


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="specsvc", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    add_serve_command(commands)
    add_token_command(commands)
    status = commands.add_parser(
        "status",
        help="open a store (creating it if missing), catch up its projections, report",
        epilog="example: specsvc status --db specs.db",
    )
    status.add_argument("--db", default=Settings.from_env().db or "specs.db", help="SQLite file")
    status.set_defaults(handler=_status)

    validate = commands.add_parser(
        "validate",
        help="check a local spec file, with no server",
        epilog="example: specsvc validate rules.yaml --type regex-rules",
    )
    validate.add_argument("file", type=Path)
    validate.add_argument("--type", required=True, dest="spec_type")
    validate.set_defaults(handler=_validate)
    return parser


def _status(args: argparse.Namespace) -> int:
    from specsvc.service import SpecService

    with SpecService.open(args.db) as service:
        report = {
            "storage": service.storage_info(),
            "projections": service.projection_status(),
            "specs": len(service.list_specs(limit=500)["specs"]),
            "types": [t["name"] for t in service.list_types()["types"]],
        }
    print(json.dumps(report, indent=2))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from specsvc.content import parse_content
    from specsvc.spectypes import SpecTypeRegistry

    settings = Settings.from_env()
    spec_type = SpecTypeRegistry.load(settings.types_dir).get(args.spec_type)
    parsed = parse_content(args.file.read_bytes(), max_bytes=settings.max_spec_bytes)
    problems = spec_type.validate(parsed.data)
    for problem in problems:
        line = parsed.lines.get(problem["path"])
        where = f"{args.file}:{line}" if line else str(args.file)
        print(f"{where}: {problem['path'] or '/'}: {problem['message']}")
    if problems:
        return EXIT_INVALID
    print(f"{args.file}: valid {spec_type.name} spec")
    return 0


if __name__ == "__main__":
    sys.exit(main())
