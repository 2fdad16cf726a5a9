"""Commands that need no server: ``status`` of a store and ``validate`` of a local file."""

from __future__ import annotations

import argparse
import json
import sys

from specsvc.cli.common import EXIT_INVALID, add_command, report_error
from specsvc.cli.io import read_local
from specsvc.cli.options import add_setting_options, settings_from
from specsvc.errors import SpecServiceError, TypeNotFound
from specsvc.spectypes import SpecType


def add_local_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register status and validate: commands that need no server."""
    status = add_command(
        commands,
        "status",
        "open a store (creating it if missing), catch up its projections, report",
        ["specsvc status --db specs.db"],
        [],
    )
    add_setting_options(status, "status")
    status.set_defaults(handler=_status)

    validate = add_command(
        commands,
        "validate",
        "check local spec files, with no server; exit 3 when any is invalid",
        [
            "specsvc validate rules.yaml --type regex-rules",
            "specsvc validate specs/*.yaml --type generic   # e.g. as a pre-commit hook",
        ],
        [],
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="YAML files; '-' reads stdin")
    validate.add_argument("--type", required=True, dest="spec_type", metavar="TYPE")
    add_setting_options(validate, "validate")
    validate.set_defaults(handler=_validate)


def _status(args: argparse.Namespace) -> int:
    from specsvc.service import SpecService

    with SpecService.open(settings=settings_from(args, "status")) as service:
        report = {
            "storage": service.storage_info(),
            "projections": service.projection_status(),
            "specs": len(service.list_specs(limit=500)["specs"]),
            "types": [t["name"] for t in service.list_types()["types"]],
        }
    print(json.dumps(report, indent=2))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from specsvc.spectypes import SpecTypeRegistry

    settings = settings_from(args, "validate")
    try:
        spec_type = SpecTypeRegistry.load(settings.types_dir).get(args.spec_type)
    except TypeNotFound as error:  # here the type is part of the input, as for POST /validate
        report_error(error)
        return EXIT_INVALID
    results = [_validate_file(name, spec_type, settings.max_spec_bytes) for name in args.files]
    return 0 if all(results) else EXIT_INVALID


def _validate_file(name: str, spec_type: SpecType, max_bytes: int) -> bool:
    from specsvc.content.intake import parse_content

    try:
        parsed = parse_content(read_local(name), max_bytes=max_bytes)
    except SpecServiceError as error:
        print(f"{name}: {error.code}: {error.message}", file=sys.stderr)
        return False
    problems = spec_type.validate(parsed.data)
    for problem in problems:
        line = parsed.lines.get(problem["path"])
        where = f"{name}:{line}" if line else name
        print(f"{where}: {problem['path'] or '/'}: {problem['message']}")
    if not problems:
        print(f"{name}: valid {spec_type.name} spec")
    return not problems
