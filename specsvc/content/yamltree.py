"""JSON-compatible data from a composed YAML node tree, with the line of each node.

``content.parse_content`` bounds depth and node count before composing, so the
recursion here is safe. Scalars are built by PyYAML's own SafeConstructor methods.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from specsvc.content.jsonpointer import child
from specsvc.errors import ValidationError

_PREFIX = "tag:yaml.org,2002:"
_MAP, _SEQ, _STR, _MERGE = (_PREFIX + name for name in ("map", "seq", "str", "merge"))

_SCALARS: dict[str, Callable[[SafeConstructor, ScalarNode], Any]] = {
    _STR: SafeConstructor.construct_yaml_str,
    _PREFIX + "int": SafeConstructor.construct_yaml_int,
    _PREFIX + "float": SafeConstructor.construct_yaml_float,
    _PREFIX + "bool": SafeConstructor.construct_yaml_bool,
    _PREFIX + "null": SafeConstructor.construct_yaml_null,
}
CORE_TAGS = frozenset({*_SCALARS, _SEQ, _MAP})


def short_tag(tag: str) -> str:
    """``tag:yaml.org,2002:binary`` as users write it: ``!!binary``."""
    return "!!" + tag.removeprefix(_PREFIX) if tag.startswith(_PREFIX) else tag


def build_data(constructor: SafeConstructor, node: Node, lines: dict[str, int]) -> Any:
    """The data of ``node``, recording the 1-based line of every pointer in ``lines``."""
    return _build(constructor, node, "", lines, _line(node))


def _build(
    constructor: SafeConstructor, node: Node, path: str, lines: dict[str, int], line: int
) -> Any:
    lines[path] = line
    if isinstance(node, MappingNode) and node.tag == _MAP:
        return _mapping(constructor, node, path, lines)
    if isinstance(node, SequenceNode) and node.tag == _SEQ:
        return [
            _build(constructor, item, child(path, index), lines, _line(item))
            for index, item in enumerate(node.value)
        ]
    if isinstance(node, ScalarNode) and node.tag in _SCALARS:
        return _scalar(constructor, node, path)
    raise _problem(path, node, f"the tag {short_tag(node.tag)} does not fit this value")


def _mapping(
    constructor: SafeConstructor, node: MappingNode, path: str, lines: dict[str, int]
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = _key(constructor, key_node, path)
        key_path = child(path, key)
        if key in data:
            raise _problem(key_path, key_node, f"duplicate key {key!r}")
        # A member's line is its key's: where a reader looks for "a:" in a block.
        data[key] = _build(constructor, value_node, key_path, lines, _line(key_node))
    return data


def _key(constructor: SafeConstructor, node: Node, path: str) -> str:
    if node.tag == _MERGE:
        raise _problem(path, node, "merge keys (<<) are not allowed")
    if not isinstance(node, ScalarNode):
        raise _problem(path, node, "a key must be text, not a list or mapping")
    if node.tag != _STR:
        kind = short_tag(node.tag).removeprefix("!!")
        raise _problem(path, node, f"the key {node.value!r} reads as {kind}; quote it")
    return str(constructor.construct_yaml_str(node))


def _scalar(constructor: SafeConstructor, node: ScalarNode, path: str) -> Any:
    try:
        value = _SCALARS[node.tag](constructor, node)
    except Exception:  # e.g. "!!int abc" (ValueError) or "!!bool maybe" (KeyError)
        raise _problem(path, node, f"the value is not a valid {short_tag(node.tag)}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise _problem(path, node, "NaN and infinity (.nan, .inf) are not allowed")
    return value


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _problem(path: str, node: Node, message: str) -> ValidationError:
    text = f"line {_line(node)}: {message}"
    return ValidationError(text, errors=[{"path": path, "message": text}])
