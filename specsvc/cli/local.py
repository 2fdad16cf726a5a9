"""Commands that need no server: ``status`` of a store and ``validate`` of local files."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from specsvc.cli.common import EXIT_INVALID, add_command
from specsvc.cli.io import print_json, read_local
from specsvc.cli.options import add_setting_options, settings_from
from specsvc.errors import SpecServiceError
from specsvc.spectypes import SpecType


def add_local_commands(commands: Any, options: Any) -> None:
    """Register status and validate: commands that need no server."""
    status = add_command(
        commands,
        "status",
        "report on an existing store: files, durability, projections, specs, types",
        ["specsvc status --db specs.db", "specsvc status --db specs.db --json"],
        [options],
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
            "specsvc validate flag.yaml --type feature-flag --types-dir examples/custom-types",
        ],
        [options],
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="YAML files; '-' reads stdin")
    validate.add_argument("--type", required=True, dest="spec_type", metavar="TYPE")
    add_setting_options(validate, "validate")
    validate.set_defaults(handler=_validate)


def _status(args: argparse.Namespace) -> int:
    from specsvc import bootstrap

    store = bootstrap.open_existing(settings_from(args, "status"))
    with store.service as service:
        report: dict[str, Any] = {
            "storage": service.storage_info(),
            "projections": service.projection_status(),
            "specs": len(service.list_specs(limit=500)["specs"]),
            "types": [t["name"] for t in service.list_types()["types"]],
        }
    if args.json_output:
        print_json(report)
        return 0
    for name, where in report["storage"].items():
        if "journal_mode" in where:  # SQLite
            durability = f"{where['journal_mode']}, synchronous={where['synchronous']}"
        else:
            durability = f"fsync={where['fsync']}, synchronous_commit={where['synchronous_commit']}"
        print(f"{name}: {where['database']} ({durability})")
    projections = report["projections"]
    state = "caught up" if projections["caught_up"] else f"behind by {projections['lag']}"
    print(f"projections: {state}" + (f" ({projections['error']})" if projections["error"] else ""))
    print(f"specs: {report['specs']}")
    print(f"types: {', '.join(report['types'])}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from specsvc.spectypes import SpecTypeRegistry

    settings = settings_from(args, "validate")
    spec_type = SpecTypeRegistry.load(settings.types_dir).get(args.spec_type)
    results = [_validate_file(name, spec_type, settings.max_spec_bytes) for name in args.files]
    if args.json_output:
        print_json({"type": spec_type.name, "files": [result for result, _ in results]})
    else:
        for _, lines in results:
            for line, stream in lines:
                print(line, file=stream)
    return 0 if all(result["valid"] for result, _ in results) else EXIT_INVALID


Line = tuple[str, Any]


def _validate_file(
    name: str, spec_type: SpecType, max_bytes: int
) -> tuple[dict[str, Any], list[Line]]:
    """One file's verdict and its report lines; a file that cannot be read is a usage
    error (raised), not an invalid spec."""
    from specsvc.content.intake import parse_content

    data = read_local(name)
    try:
        parsed = parse_content(data, max_bytes=max_bytes)
    except SpecServiceError as error:
        problems = error.details.get("errors") or [{"path": "", "message": error.message}]
        verdict = {"file": name, "valid": False, "errors": problems}
        return verdict, [(f"{name}: {error.code}: {error.message}", sys.stderr)]
    problems = spec_type.validate(parsed.data)
    lines: list[Line] = []
    for problem in problems:
        problem["line"] = parsed.lines.get(problem["path"])
        where = f"{name}:{problem['line']}" if problem["line"] else name
        lines.append((f"{where}: {problem['path'] or '/'}: {problem['message']}", sys.stdout))
    if not problems:
        lines.append((f"{name}: valid {spec_type.name} spec", sys.stdout))
    return {"file": name, "valid": not problems, "errors": problems}, lines
