"""Row-by-row differences between the read models and a rebuild from the event log."""

from __future__ import annotations

from contextlib import closing
from typing import Any

from specsvc.bootstrap import Components, rebuild_projections
from specsvc.operator.store import read_only

# Rows are keyed by their primary key, the leading columns of each table's dump.
KEY_WIDTH = {"spec_versions": 2}


def projection_differences(components: Components, projections_file: str) -> list[str]:
    """One line per missing, unexpected or differing read-model row."""
    rebuilt = rebuild_projections(components.application, None)
    try:
        expected = rebuilt.read_model.dump_tables()
    finally:
        rebuilt.close()
    actual = components.projections.read_model.dump_tables()
    found: list[str] = []
    for table, rows in expected.items():
        columns = _columns(projections_file, table)
        found += _table_differences(table, columns, rows, actual.get(table, []))
    return found


def _table_differences(
    table: str, columns: list[str], expected: list[tuple[Any, ...]], actual: list[tuple[Any, ...]]
) -> list[str]:
    width = KEY_WIDTH.get(table, 1)
    want = {row[:width]: row for row in expected}
    have = {row[:width]: row for row in actual}
    found = []
    for key in sorted(want.keys() | have.keys(), key=repr):
        label = f"projections: {table} {', '.join(map(str, key))}"
        if key not in have:
            found.append(f"{label}: missing (the rebuild has it)")
        elif key not in want:
            found.append(f"{label}: unexpected (the rebuild lacks it)")
        else:
            found += [
                f"{label}: {column} is {is_!r}, the rebuild has {should!r}"
                for column, is_, should in zip(columns, have[key], want[key], strict=True)
                if is_ != should
            ]
    return found


def _columns(projections_file: str, table: str) -> list[str]:
    with closing(read_only(projections_file)) as connection:
        return [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
