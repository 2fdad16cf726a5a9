"""Client commands that compare and evaluate versions: ``diff`` and ``evaluate``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from specsvc.cli.common import add_command
from specsvc.cli.io import print_json, read_local, utf8_text
from specsvc.cli.render import coloured_diff, evaluation
from specsvc.cli.writes import client_for, show
from specsvc.errors import ValidationError


def add_inspect_commands(commands: Any, options: Any) -> None:
    """Register diff and evaluate."""
    diff = add_command(
        commands,
        "diff",
        "unified diff between two versions (coloured on a terminal)",
        ["specsvc diff signup-rules 1 2", "specsvc diff signup-rules 1 2 --json"],
        [options],
    )
    diff.add_argument("name", metavar="NAME")
    diff.add_argument("from_version", metavar="A", type=int)
    diff.add_argument("to_version", metavar="B", type=int)
    diff.set_defaults(handler=_diff)

    evaluate = add_command(
        commands,
        "evaluate",
        "evaluate a regex-rules spec against an input mapping (JSON or YAML file)",
        [
            "specsvc evaluate signup-rules --input person.json",
            "echo '{email: a@b.c}' | specsvc evaluate r --input -",
        ],
        [options],
    )
    evaluate.add_argument("name", metavar="NAME")
    evaluate.add_argument("--input", required=True, metavar="FILE", help="'-' reads stdin")
    evaluate.add_argument("--version", type=int, help="default: published, else latest")
    evaluate.set_defaults(handler=_evaluate)


def _diff(args: argparse.Namespace) -> int:
    result = client_for(args).diff(args.name, args.from_version, args.to_version)
    if args.json_output:
        print_json(result)
    else:
        text = result["diff"]
        sys.stdout.write(coloured_diff(text) if sys.stdout.isatty() else text)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    document = _input_mapping(utf8_text(read_local(args.input), "the input"))
    outcome = client_for(args).evaluate(args.name, document, version=args.version)
    return show(args, outcome, lambda: evaluation(outcome))


def _input_mapping(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        document = yaml.safe_load(text)
        json.dumps(document)
    except yaml.YAMLError as error:
        raise ValidationError(f"the input is neither JSON nor YAML: {error}") from None
    except (TypeError, ValueError):
        raise ValidationError(
            "the input holds values JSON cannot (quote dates and times)"
        ) from None
    return document
