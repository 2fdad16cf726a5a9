"""JSON-compatible data built from the YAML parser's events as they arrive, with the
line of each node, and the tags and scalars of the reader that notes no places
(``content.intake``).

``content.parse_content`` checks every event (anchors, aliases, tags, depth, node
count) before handing it here, so nothing outside those bounds is ever built, and the
text is parsed once. Tags are resolved as PyYAML's composer resolves them, and scalars
are built by PyYAML's own SafeConstructor methods.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from specsvc.content.jsonpointer import child
from specsvc.errors import ValidationError

_PREFIX = "tag:yaml.org,2002:"
MAP_TAG, SEQ_TAG, STR_TAG, _MERGE = (_PREFIX + name for name in ("map", "seq", "str", "merge"))

_SCALARS: dict[str, Callable[[SafeConstructor, ScalarNode], Any]] = {
    STR_TAG: SafeConstructor.construct_yaml_str,
    _PREFIX + "int": SafeConstructor.construct_yaml_int,
    _PREFIX + "float": SafeConstructor.construct_yaml_float,
    _PREFIX + "bool": SafeConstructor.construct_yaml_bool,
    _PREFIX + "null": SafeConstructor.construct_yaml_null,
}
CORE_TAGS = frozenset({*_SCALARS, SEQ_TAG, MAP_TAG})


def short_tag(tag: str) -> str:
    """``tag:yaml.org,2002:binary`` as users write it: ``!!binary``."""
    return "!!" + tag.removeprefix(_PREFIX) if tag.startswith(_PREFIX) else tag


class _Open:
    """A mapping or sequence being built; ``key`` is a mapping's member awaiting its value
    (its name, pointer and the key's line)."""

    __slots__ = ("data", "is_map", "key", "path")

    def __init__(self, data: dict[str, Any] | list[Any], path: str) -> None:
        self.data, self.path, self.is_map = data, path, isinstance(data, dict)
        self.key: tuple[str, str, int] | None = None


class DataBuilder:
    """Builds the data of one document from its events, with the line of each node; the
    first problem met is kept in ``problem`` (building stops, the events still arrive to
    be checked). Used where places are wanted: a document ``PlainBuilder`` could not
    build, and the lines ``specsvc validate`` reports."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader  # a yaml loader: resolve() and the SafeConstructor methods
        self.lines: dict[str, int] = {}
        self.root: Any = None
        self.problem: ValidationError | None = None
        self._open: list[_Open] = []
        self._top: _Open | None = None

    def add(self, event: yaml.Event, kind: type) -> bool:
        """Build from ``event`` (of class ``kind``); a problem is kept, not raised, so
        the stream goes on to be checked: answers True while there is none."""
        if self.problem is not None:
            return False
        try:
            if kind is yaml.ScalarEvent:
                self._scalar(cast(yaml.ScalarEvent, event))
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                self._start(cast(yaml.CollectionStartEvent, event), kind is yaml.MappingStartEvent)
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                self._open.pop()
                done, self._top = self._top, self._open[-1] if self._open else None
                assert done is not None
                self._put(done.data)
        except ValidationError as problem:
            self.problem = problem
            return False
        return True

    def _scalar(self, event: yaml.ScalarEvent) -> None:
        tag = event.tag
        if tag is None or tag == "!":  # as PyYAML's composer resolves an untagged node
            tag = scalar_tag(self.loader, event.value, event.implicit)
        top = self._top
        if top is not None and top.is_map and top.key is None:
            self._take_key(event, tag, top)
            return
        path = self._place(event)
        if tag == STR_TAG:  # what construct_yaml_str returns, without building a node
            self._put(event.value)
        elif tag in _SCALARS:
            # The constructors read only the value (and a mark if they complain).
            node = ScalarNode(tag, event.value, cast(Any, event.start_mark))
            self._put(_scalar(self.loader, node, path))
        else:
            raise _misfit(path, event, tag)

    def _start(self, event: yaml.CollectionStartEvent, mapping: bool) -> None:
        top = self._top
        if top is not None and top.is_map and top.key is None:
            raise _problem(top.path, event, "a key must be text, not a list or mapping")
        tag = event.tag
        if tag is None or tag == "!":
            tag = collection_tag(self.loader, mapping, event.implicit)
        path = self._place(event)
        if tag != (MAP_TAG if mapping else SEQ_TAG):
            raise _misfit(path, event, tag)
        self._top = _Open({} if mapping else [], path)
        self._open.append(self._top)

    def _take_key(self, event: yaml.ScalarEvent, tag: str, parent: _Open) -> None:
        if tag == _MERGE:
            raise _problem(parent.path, event, "merge keys (<<) are not allowed")
        if tag != STR_TAG:
            kind = short_tag(tag).removeprefix("!!")
            raise _problem(parent.path, event, f"the key {event.value!r} reads as {kind}; quote it")
        key = event.value
        key_path = child(parent.path, key)
        if key in parent.data:
            raise _problem(key_path, event, f"duplicate key {key!r}")
        # A member's line is its key's: where a reader looks for "a:" in a block.
        parent.key = (key, key_path, _line(event))

    def _place(self, event: yaml.NodeEvent) -> str:
        """The pointer of the value ``event`` starts, its line recorded."""
        top = self._top
        if top is None:
            path, line = "", _line(event)
        elif not top.is_map:
            path, line = child(top.path, len(top.data)), _line(event)
        else:
            assert top.key is not None
            _, path, line = top.key
        self.lines[path] = line
        return path

    def _put(self, value: Any) -> None:
        top = self._top
        if top is None:
            self.root = value
        elif top.is_map:
            assert top.key is not None
            cast(dict[str, Any], top.data)[top.key[0]] = value
            top.key = None
        else:
            cast(list[Any], top.data).append(value)


# Plain scalars resolve by their text alone, and ints, floats, booleans and nulls are
# immutable: both are kept across documents, up to a bound (a full table is emptied).
_KEPT = 4096
resolved_tags: dict[tuple[str, Any], str] = {}
_constructed: dict[tuple[str, str], Any] = {}
FAILS = object()


def scalar_tag(loader: Any, value: str, implicit: Any) -> str:
    """The tag PyYAML's composer gives an untagged scalar (``intake``'s plain reader
    looks in ``resolved_tags`` first, inline)."""
    memo = (value, implicit)
    tag = resolved_tags.get(memo)
    if tag is None:
        tag = loader.resolve(ScalarNode, value, implicit)
        if len(resolved_tags) >= _KEPT:
            resolved_tags.clear()
        resolved_tags[memo] = tag
    return tag


def collection_tag(loader: Any, mapping: bool, implicit: Any) -> str:
    return str(loader.resolve(MappingNode if mapping else SequenceNode, None, implicit))


def plain_scalar(loader: Any, tag: str, value: str, event: Any) -> Any:
    """The value of a scalar tagged other than ``!!str``, or ``FAILS`` where
    ``DataBuilder`` would refuse it (an unknown tag, a value its tag cannot build, NaN or
    infinity)."""
    memo = (tag, value)
    built = _constructed.get(memo, FAILS)
    if built is not FAILS:
        return built
    construct = _SCALARS.get(tag)
    if construct is None:
        return FAILS
    try:
        built = construct(loader, ScalarNode(tag, value, event.start_mark))
    except Exception:
        return FAILS
    if isinstance(built, float) and not math.isfinite(built):
        return FAILS
    if len(_constructed) >= _KEPT:
        _constructed.clear()
    _constructed[memo] = built
    return built


def _misfit(path: str, event: Any, tag: str) -> ValidationError:
    return _problem(path, event, f"the tag {short_tag(tag)} does not fit this value")


def _scalar(constructor: SafeConstructor, node: ScalarNode, path: str) -> Any:
    try:
        value = _SCALARS[node.tag](constructor, node)
    except Exception:  # e.g. "!!int abc" (ValueError) or "!!bool maybe" (KeyError)
        raise _problem(path, node, f"the value is not a valid {short_tag(node.tag)}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise _problem(path, node, "NaN and infinity (.nan, .inf) are not allowed")
    return value


def _line(node: Any) -> int:  # a node or an event: both carry their start mark
    return int(node.start_mark.line) + 1


def _problem(path: str, node: Any, message: str) -> ValidationError:
    text = f"line {_line(node)}: {message}"
    return ValidationError(text, errors=[{"path": path, "message": text}])
