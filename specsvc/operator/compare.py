"""Field-by-field differences between what should be and what is, as readable lines."""

from __future__ import annotations

from typing import Any


def differences(
    label: str, expected: Any, actual: Any, *, expected_by: str, actual_by: str
) -> list[str]:
    """One line per differing leaf: ``label.path: actual_by has A, expected_by has E``."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in [*expected, *(k for k in actual if k not in expected)]:
            found += differences(
                f"{label}.{key}",
                expected.get(key, _ABSENT),
                actual.get(key, _ABSENT),
                expected_by=expected_by,
                actual_by=actual_by,
            )
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        found = []
        if len(expected) != len(actual):
            found.append(
                f"{label}: {actual_by} has {len(actual)}, {expected_by} has {len(expected)}"
            )
        for index, (want, have) in enumerate(zip(expected, actual, strict=False)):
            found += differences(
                f"{label}[{index}]", want, have, expected_by=expected_by, actual_by=actual_by
            )
        return found
    if type(expected) is not type(actual) or expected != actual:
        return [f"{label}: {actual_by} has {actual!r}, {expected_by} has {expected!r}"]
    return []


class _Absent:
    def __repr__(self) -> str:
        return "nothing"


_ABSENT = _Absent()
