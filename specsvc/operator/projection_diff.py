"""The read models against a rebuild from the event log: equal, or every row that differs."""

from __future__ import annotations

from typing import Any

from specsvc.application import SpecApplication
from specsvc.persistence.interfaces import SpecReadModelRecorder, TableDump
from specsvc.persistence.sqlite.factory import scratch_env
from specsvc.projections import SpecProjections, replay


def rebuilt_projections(
    application: SpecApplication, progress: Any = None
) -> SpecProjections:
    """Fresh read models replayed from ``application``'s log, in a private scratch store."""
    projections = SpecProjections(env=scratch_env(dict(application.env), SpecProjections.name))
    try:
        replay(projections, application, progress)
    except BaseException:
        projections.close()
        raise
    return projections


def projection_differences(
    application: SpecApplication, read_model: SpecReadModelRecorder
) -> list[str]:
    """One line per missing, unexpected or differing read-model row."""
    rebuilt = rebuilt_projections(application)
    try:
        expected = rebuilt.read_model.dump_tables()
    finally:
        rebuilt.close()
    return table_differences(expected, read_model.dump_tables())


def table_differences(
    expected: dict[str, TableDump], actual: dict[str, TableDump], *, by: str = "the rebuild"
) -> list[str]:
    """Every read-model row missing from ``actual``, unexpected in it, or differing from
    ``expected`` (which ``by`` names in the lines)."""
    found: list[str] = []
    for table, dump in expected.items():
        found += _table_differences(table, dump, actual.get(table), by)
    return found


def _table_differences(
    table: str, expected: TableDump, actual: TableDump | None, by: str
) -> list[str]:
    width = expected.key_width
    want = {row[:width]: row for row in expected.rows}
    have = {row[:width]: row for row in actual.rows} if actual else {}
    found = []
    for key in sorted(want.keys() | have.keys(), key=repr):
        label = f"projections: {table} {', '.join(map(str, key))}"
        if key not in have:
            found.append(f"{label}: missing ({by} has it)")
        elif key not in want:
            found.append(f"{label}: unexpected ({by} lacks it)")
        else:
            found += [
                f"{label}: {column} is {is_!r}, {by} has {should!r}"
                for column, is_, should in zip(expected.columns, have[key], want[key], strict=True)
                if is_ != should
            ]
    return found
