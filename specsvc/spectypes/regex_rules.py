"""Semantic checks and evaluation of ``regex-rules`` specs.

Patterns are RE2, so matching runs in time linear in the input whatever a spec
author writes; backreferences and lookaround do not compile and are reported.

RE2 keeps each compiled pattern's DFA cache for as long as the pattern lives, up to
its ``max_mem``. Both are bounded here: a small ``max_mem`` per pattern (past it RE2
falls back to its NFA, still linear, and on DFA-hostile patterns faster than a DFA
that keeps running out of room), and a cache of compiled patterns bounded by count.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import re2

from specsvc.content.jsonpointer import child
from specsvc.errors import ValidationError

MAX_DEPTH = 32
MAX_NODES = 256
_LISTS = ("all", "any")
_COMBINE = {"all": all, "any": any, "not": lambda results: not results[0]}

# Measured by benchmarks/bench_regex.py on 60 KB of DFA-hostile input: 8 MiB (RE2's
# default) kept 2.9 MB per pattern and took 31 ms a search; 256 KiB kept 109 KB (0.04x)
# and took 9.3 ms (0.30x).
MAX_MEM_PER_PATTERN = 256 * 1024
# At most this many compiled patterns live at once: at most 64 MiB of RE2 memory.
CACHED_PATTERNS = 256

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would otherwise print every bad pattern to stderr
_OPTIONS.max_mem = MAX_MEM_PER_PATTERN

Node = dict[str, Any]


def check(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Problems the schema cannot see: RE2 syntax, depth and node count."""
    if _sound(data["rule"]):  # the common case, found without naming any node
        return []
    return problems(data)


def problems(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every problem ``check`` reports, each at its node's pointer."""
    problems = []
    for count, (path, depth, node) in enumerate(_walk(data["rule"]), start=1):
        if count == MAX_NODES + 1:
            problems.append({"path": path, "message": f"a rule has at most {MAX_NODES} nodes"})
        if depth == MAX_DEPTH + 1:
            problems.append({"path": path, "message": f"a rule nests at most {MAX_DEPTH} deep"})
        if "matches" in node:
            error = _compile_error(node["matches"])
            if error:
                problems.append({"path": child(path, "matches"), "message": error})
    return problems


def evaluate(data: dict[str, Any], input: dict[str, Any]) -> dict[str, Any]:
    """``{"result", "trace"}`` of the rule for ``input``; every node is evaluated."""
    if not isinstance(input, Mapping):
        raise ValidationError(
            "input must be a mapping",
            errors=[{"path": "/input", "message": "input must be a mapping"}],
        )
    trace: list[dict[str, Any]] = []
    result = _evaluate(data["rule"], "/rule", input, trace)
    return {"result": result, "trace": trace}


def _sound(root: Node) -> bool:
    """Whether the rule has none of the problems ``check`` reports: the same walk, without
    building each node's pointer (wanted only to say where a problem is)."""
    stack = [(root, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            return False
        if "matches" in node and _compile_error(node["matches"]):
            return False
        for op in _LISTS:
            if op in node:
                stack.extend((item, depth + 1) for item in node[op])
                break
        else:
            if "not" in node:
                stack.append((node["not"], depth + 1))
    return True


def _walk(root: Node) -> Iterator[tuple[str, int, Node]]:
    # An explicit stack, so a deep rule is reported rather than overflowing Python's.
    stack = [("/rule", 1, root)]
    while stack:
        path, depth, node = stack.pop()
        yield path, depth, node
        stack.extend(reversed([(p, depth + 1, n) for p, n in _children(path, node)]))


def _children(path: str, node: Node) -> list[tuple[str, Node]]:
    for op in _LISTS:
        if op in node:
            return [(child(child(path, op), i), item) for i, item in enumerate(node[op])]
    return [(child(path, "not"), node["not"])] if "not" in node else []


def _evaluate(node: Node, path: str, input: Mapping[str, Any], trace: list[dict[str, Any]]) -> bool:
    op = next((name for name in ("all", "any", "not") if name in node), "match")
    entry: dict[str, Any] = {"path": path, "op": op}
    trace.append(entry)  # appended before the children, so the trace is in document order
    if op == "match":
        entry.update(field=node["field"], matches=node["matches"])
        result = _leaf(node["field"], node["matches"], input)
    else:
        results = [_evaluate(item, p, input, trace) for p, item in _children(path, node)]
        result = _COMBINE[op](results)
    entry["result"] = result
    return result


def _leaf(field: str, pattern: str, input: Mapping[str, Any]) -> bool:
    value = input.get(field)
    if value is None:
        return False
    return _compiled(pattern).search(_text(field, value)) is not None


def _text(field: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        message = "the value cannot be read as JSON"
        problem = {"path": child("/input", field), "message": message}
        raise ValidationError(message, errors=[problem]) from None


class PatternCache:
    """Compiled patterns, least recently used evicted first, at most ``size`` of them."""

    def __init__(self, size: int):
        self.size = size
        self._patterns: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, pattern: str) -> Any:
        with self._lock:
            compiled = self._patterns.get(pattern)
            if compiled is not None:
                self._patterns.move_to_end(pattern)
                return compiled
        compiled = re2.compile(pattern, _OPTIONS)  # raises re2.error for a bad pattern
        with self._lock:
            self._patterns[pattern] = compiled
            while len(self._patterns) > self.size:
                self._patterns.popitem(last=False)
        return compiled

    def __len__(self) -> int:
        return len(self._patterns)


PATTERNS = PatternCache(CACHED_PATTERNS)


def _compiled(pattern: str) -> Any:
    return PATTERNS.get(pattern)


def _compile_error(pattern: str) -> str | None:
    try:
        _compiled(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid pattern"
        # google-re2 gives its reason as bytes.
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        return f"not a valid RE2 regular expression: {text}"
    return None
