"""Human output of the client commands: one-line results, tables, events, coloured diffs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

Column = tuple[str, Callable[[dict[str, Any]], Any]]

SPEC_COLUMNS: list[Column] = [
    ("NAME", lambda s: s["name"]),
    ("TYPE", lambda s: s["type"]),
    ("STATE", lambda s: s["state"]),
    ("VERSION", lambda s: s["version"]),
    ("PUBLISHED", lambda s: s["published_version"]),
    ("UPDATED", lambda s: s["updated_at"]),
]
VERSION_COLUMNS: list[Column] = [
    ("VERSION", lambda v: v["version"]),
    ("CREATED", lambda v: v["created_at"]),
    ("BY", lambda v: v["created_by"]),
    ("SIZE", lambda v: v["size"]),
    ("SHA256", lambda v: v["content_sha256"][:12]),
    ("REASON", lambda v: v["reason"]),
]
ANSI = {"+": "\x1b[32m", "-": "\x1b[31m", "@": "\x1b[36m", "header": "\x1b[1m"}
RESET = "\x1b[0m"


def command_result(verb: str, spec: dict[str, Any]) -> str:
    """``VERB NAME: state, version, published, revision``; ``unchanged`` for a no-op."""
    published = spec["published_version"] or "never"
    done = verb if spec.get("changed", True) else "unchanged"
    return (
        f"{done} {spec['name']}: {spec['state']}, version {spec['version']},"
        f" published {published}, revision {spec['revision']}"
    )


def spec_details(spec: dict[str, Any], fields: Sequence[str]) -> str:
    """Metadata as ``field: value`` lines, a blank line, then the content."""
    lines = [f"{field}: {_cell(spec.get(field))}" for field in fields if field in spec]
    content = spec["content"]
    # print() adds the last newline back; exact bytes are what --raw is for.
    return "\n".join(lines) + "\n\n" + (content[:-1] if content.endswith("\n") else content)


def table(rows: Iterable[dict[str, Any]], columns: Sequence[Column]) -> str:
    cells = [[header for header, _ in columns]]
    cells += [[_cell(value(row)) for _, value in columns] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def event_line(event: dict[str, Any]) -> str:
    """``position timestamp spec event details actor: reason`` on one line."""
    if event["event"] == "SpecStateChanged":
        change = f"{event['from_state']}->{event['to_state']}"
        detail = f"{change} published={_cell(event['published_version'])}"
    else:
        detail = f"version={event['version']}"
    reason = f": {event['reason']}" if event.get("reason") else ""
    return (
        f"{event['position']}  {event['timestamp']}  {event['spec']}  {event['event']}"
        f"  {detail}  by {event['actor']}{reason}"
    )


def coloured_diff(diff: str) -> str:
    """The unified diff with ANSI colours: headers bold, additions green, removals red."""
    return "".join(_colour(line) for line in diff.splitlines(keepends=True))


def _colour(line: str) -> str:
    body = line.rstrip("\n")
    ending = line[len(body) :]
    if body.startswith(("+++", "---")):
        code = ANSI["header"]
    elif body[:1] in ("+", "-", "@"):
        code = ANSI[body[:1]]
    else:
        return line
    return f"{code}{body}{RESET}{ending}"


def evaluation(outcome: dict[str, Any]) -> str:
    """The result, then the trace: one rule node per line, in document order."""
    lines = [f"result: {_cell(outcome['result'])} (version {outcome['version']})", "trace:"]
    for node in outcome["trace"]:
        what = node["op"]
        if what == "match":
            what = f"{node['field']} matches {node['matches']!r}"
        lines.append(f"  {node['path']}  {what}  -> {_cell(node['result'])}")
    return "\n".join(lines)


def rebuild_lines(report: dict[str, Any]) -> list[str]:
    """Rows per read-model table before and after a rebuild, then the tracked position."""
    width = max(map(len, report["after"]), default=5)
    lines = [f"{'table':<{width}}  {'before':>8}  {'after':>8}"] + [
        f"{table:<{width}}  {report['before'].get(table, 0):>8}  {count:>8}"
        for table, count in report["after"].items()
    ]
    position = report["position"]
    return [*lines, f"tracking position {position['before']} -> {position['after']}"]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
