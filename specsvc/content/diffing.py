"""Differences between two versions of a spec: a text diff and the changed paths."""

from __future__ import annotations

import difflib
from typing import Any

from specsvc.content.jsonpointer import child

_NO_NEWLINE = "\\ No newline at end of file\n"


def diff_contents(
    name: str,
    from_version: int,
    old_text: str,
    old_data: Any,
    to_version: int,
    new_text: str,
    new_data: Any,
) -> dict[str, Any]:
    """``{"from", "to", "diff", "changes"}`` between two versions of spec ``name``."""
    old_label, new_label = f"{name}@v{from_version}", f"{name}@v{to_version}"
    return {
        "from": from_version,
        "to": to_version,
        "diff": unified_diff(old_text, new_text, old_label, new_label),
        "changes": changed_paths(old_data, new_data),
    }


def unified_diff(old_text: str, new_text: str, old_label: str, new_label: str) -> str:
    """A unified diff that keeps line endings; ``""`` when the texts are equal."""
    lines = difflib.unified_diff(_lines(old_text), _lines(new_text), old_label, new_label)
    # A last line without "\n" would run into the next one; mark it as diff(1) does.
    return "".join(line if line.endswith("\n") else line + "\n" + _NO_NEWLINE for line in lines)


def changed_paths(old: Any, new: Any, path: str = "") -> list[dict[str, str]]:
    """``{"op", "path"}`` of every added, removed or replaced node, in document order.

    Mappings compare by key (the old document's order, then keys only in the new),
    lists by index; a change of type or of a scalar's value is a replace.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        return _mapping_changes(old, new, path)
    if isinstance(old, list) and isinstance(new, list):
        return _list_changes(old, new, path)
    # type() as well as ==, because True == 1 and 1 == 1.0 in Python but not in YAML.
    if type(old) is not type(new) or old != new:
        return [{"op": "replace", "path": path}]
    return []


def _mapping_changes(old: dict[str, Any], new: dict[str, Any], path: str) -> list[dict[str, str]]:
    changes = []
    for key, value in old.items():
        if key in new:
            changes += changed_paths(value, new[key], child(path, key))
        else:
            changes.append({"op": "remove", "path": child(path, key)})
    changes += [{"op": "add", "path": child(path, key)} for key in new if key not in old]
    return changes


def _list_changes(old: list[Any], new: list[Any], path: str) -> list[dict[str, str]]:
    changes = []
    for index, (before, after) in enumerate(zip(old, new, strict=False)):
        changes += changed_paths(before, after, child(path, index))
    changes += [{"op": "remove", "path": child(path, i)} for i in range(len(new), len(old))]
    changes += [{"op": "add", "path": child(path, i)} for i in range(len(old), len(new))]
    return changes


def _lines(text: str) -> list[str]:
    # Split on "\n" only: str.splitlines would also break at \r, \x0c or U+2028.
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]
