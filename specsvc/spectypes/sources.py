"""Where spec types come from: the built-ins, a directory of schema files, plugins.

A bad source is an operator's configuration error, found at startup: it raises
``ValueError`` naming the file or entry point.
"""

from __future__ import annotations

import json
import re
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import yaml

from specsvc.spectypes import approval_workflow, regex_rules
from specsvc.spectypes.base import SpecType

ENTRY_POINT_GROUP = "specsvc.spec_types"
TYPE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?")
_SCHEMA_SUFFIXES = (".json", ".yaml", ".yml")


def builtin_types() -> list[SpecType]:
    """``generic``, ``regex-rules`` and ``approval-workflow``."""
    return [
        _packaged("generic"),
        _packaged("regex-rules", check=regex_rules.check, evaluate=regex_rules.evaluate),
        _packaged("approval-workflow", check=approval_workflow.check),
    ]


def directory_types(types_dir: str) -> list[SpecType]:
    """One type per schema file in ``types_dir``, named after the file's stem."""
    directory = Path(types_dir)
    if not directory.is_dir():
        raise ValueError(f"spec types directory {types_dir!r} is not a directory")
    files = sorted(p for p in directory.iterdir() if p.suffix in _SCHEMA_SUFFIXES and p.is_file())
    return [_file_type(path) for path in files]


def entry_point_types() -> list[SpecType]:
    """One type per entry point in ``specsvc.spec_types``, named after the entry point."""
    found = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    return [_entry_point_type(ep) for ep in found]


def _packaged(name: str, **hooks: Any) -> SpecType:
    text = (resources.files(__package__) / "schemas" / f"{name}.json").read_text("utf-8")
    schema = json.loads(text)
    return SpecType(
        name=name, schema=schema, description=schema["description"], compiled=True, **hooks
    )


def _file_type(path: Path) -> SpecType:
    try:
        text = path.read_text("utf-8")
        schema = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        return _as_spec_type(path.stem, schema)
    except Exception as exc:
        raise ValueError(f"spec type file {str(path)!r}: {_first_line(exc)}") from exc


def _entry_point_type(entry_point: metadata.EntryPoint) -> SpecType:
    try:
        loaded = entry_point.load()
        if callable(loaded) and not isinstance(loaded, SpecType):
            loaded = loaded()
        return _as_spec_type(entry_point.name, loaded)
    except Exception as exc:
        where = f"{entry_point.name!r} ({entry_point.value})"
        raise ValueError(f"spec type entry point {where}: {_first_line(exc)}") from exc


def _as_spec_type(name: str, loaded: Any) -> SpecType:
    if not TYPE_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid type name (lowercase letters, digits, . _ -)")
    if isinstance(loaded, SpecType):
        if loaded.name != name:
            raise ValueError(f"the SpecType is named {loaded.name!r}, not {name!r}")
        return loaded
    if not isinstance(loaded, dict):
        raise ValueError("a spec type must be a JSON Schema mapping or a SpecType")
    description = loaded.get("description") or loaded.get("title") or ""
    return SpecType(name=name, schema=loaded, description=str(description))


def _first_line(exc: Exception) -> str:
    # jsonschema's SchemaError text runs to many lines; its first says what is wrong.
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
