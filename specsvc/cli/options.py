"""Command-line options built from the declarations in ``specsvc.config.Settings``.

Each option's default is its environment variable when set, else the command line's
default; a flag given on the command line wins over both.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import Field, replace
from typing import Any

from specsvc.config import Settings, convert, flag, kind, variable


def add_setting_options(parser: argparse.ArgumentParser, command: str) -> None:
    """One option per setting that ``command`` takes, its help naming variable and default."""
    for option in Settings.options(command):
        shown = option.metadata["cli_default"]
        described = f"{_plain(option.metadata['meaning'])} (env {variable(option)}"
        described += f"; default {_shown(shown)})"
        arguments: dict[str, Any] = {"help": described, "default": argparse.SUPPRESS}
        if kind(option) == "bool":
            arguments["action"] = argparse.BooleanOptionalAction
        else:
            arguments["metavar"] = option.name.upper()
            if kind(option) in ("int", "float"):
                arguments["type"] = int if kind(option) == "int" else float
            if option.metadata["choices"]:
                arguments["choices"] = option.metadata["choices"]
        parser.add_argument(flag(option), dest=option.name, **arguments)


def settings_from(args: argparse.Namespace, command: str) -> Settings:
    """Settings for ``command``: flags, else variables, else the command line's defaults."""
    values = {}
    for option in Settings.options(command):
        if option.name in vars(args):
            values[option.name] = getattr(args, option.name)
        else:
            values[option.name] = _from_environment(option)
    return replace(Settings.from_env(), **values)


def _from_environment(option: Field[Any]) -> Any:
    raw = os.environ.get(variable(option))
    return option.metadata["cli_default"] if raw is None else convert(option, raw)


def _plain(text: str) -> str:
    return text.replace("`", "'")


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def settings_table() -> str:
    """The README's configuration table: every setting's flag, variable, default, meaning."""
    rows = [
        "| flag | variable | default | meaning |",
        "|---|---|---|---|",
    ]
    for option in Settings.options():
        default = option.metadata["cli_default"]
        shown = "unset" if default is None else f"`{_shown(default)}`"
        rows.append(
            f"| `{flag(option)}` | `{variable(option)}` | {shown} | {option.metadata['meaning']} |"
        )
    return "\n".join(rows)
