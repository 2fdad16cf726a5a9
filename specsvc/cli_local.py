"""Commands that need no server: ``status`` of a store and ``validate`` of a local file."""

from __future__ import annotations

import argparse
import json

from specsvc.cli_common import EXIT_INVALID, add_command, report_error
from specsvc.cli_io import read_local
from specsvc.config import Settings
from specsvc.errors import TypeNotFound


def add_local_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register status and validate: commands that need no server."""
    status = add_command(
        commands,
        "status",
        "open a store (creating it if missing), catch up its projections, report",
        ["specsvc status --db specs.db"],
        [],
    )
    status.add_argument("--db", default=Settings.from_env().db or "specs.db", help="SQLite file")
    status.set_defaults(handler=_status)

    validate = add_command(
        commands,
        "validate",
        "check a local spec file, with no server; exit 3 when invalid",
        ["specsvc validate rules.yaml --type regex-rules"],
        [],
    )
    validate.add_argument("file", help="the spec's YAML; '-' reads standard input")
    validate.add_argument("--type", required=True, dest="spec_type", metavar="TYPE")
    validate.set_defaults(handler=_validate)


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
    try:
        spec_type = SpecTypeRegistry.load(settings.types_dir).get(args.spec_type)
    except TypeNotFound as error:  # here the type is part of the input, as for POST /validate
        report_error(error)
        return EXIT_INVALID
    parsed = parse_content(read_local(args.file), max_bytes=settings.max_spec_bytes)
    problems = spec_type.validate(parsed.data)
    for problem in problems:
        line = parsed.lines.get(problem["path"])
        where = f"{args.file}:{line}" if line else str(args.file)
        print(f"{where}: {problem['path'] or '/'}: {problem['message']}")
    if problems:
        return EXIT_INVALID
    print(f"{args.file}: valid {spec_type.name} spec")
    return 0
