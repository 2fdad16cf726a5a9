"""Hardened intake of spec content: bounded, plain YAML becomes JSON-compatible data.

Everything a user sends is checked before PyYAML builds anything from it: size on
the encoded bytes, then anchors, aliases, tags, depth and node count on each event of
the stream before the event is used, so neither a "billion laughs" document nor deep
nesting ever gets built. The text is parsed once: the data is built from the same
events as they are checked.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from specsvc.content.yamltree import (
    CORE_TAGS,
    FAILS,
    MAP_TAG,
    SEQ_TAG,
    STR_TAG,
    DataBuilder,
    collection_tag,
    plain_scalar,
    resolved_tags,
    scalar_tag,
    short_tag,
)
from specsvc.errors import PayloadTooLarge, ValidationError

MAX_DEPTH = 64
MAX_EVENTS = 10_000

_FOREIGN_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Impossible dates make PyYAML's timestamp constructor raise, and "=" resolves to a
# tag SafeConstructor cannot build; both stay plain strings here.
_UNRESOLVED_TAGS = frozenset({"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"})


# libyaml parses about 15x faster than the pure-Python parser; both are equally strict here.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CoreLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _UNRESOLVED_TAGS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


@dataclass(frozen=True)
class ParsedContent:
    """Parsed spec content: ``lines`` maps a JSON pointer to its 1-based line."""

    data: dict[str, Any]
    text: str = field(repr=False)

    @property
    def lines(self) -> dict[str, int]:
        # Only messages about a document's places need its lines: read again when asked.
        return _read(self.text)[1]


def parse_content(content: str | bytes, *, max_bytes: int) -> ParsedContent:
    """Parse one YAML mapping, or raise ``PayloadTooLarge`` / ``ValidationError``."""
    text = _decode(content, max_bytes)
    try:
        data = _read_plain(text)
        if data is _BUILD_PROBLEM:  # read again, noting places, to say where and what
            data = _read(text)[0]
    except ValidationError:
        raise
    except yaml.YAMLError as exc:
        raise ValidationError(_yaml_message(exc)) from None
    except Exception as exc:  # nothing a user sends may escape as a server error
        raise ValidationError(f"content is not readable YAML ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise ValidationError("the top level of the content must be a mapping")
    return ParsedContent(data, text)


def _decode(content: str | bytes, max_bytes: int) -> str:
    if isinstance(content, str):
        try:
            content = content.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("content is not encodable as UTF-8") from None
    if len(content) > max_bytes:
        raise PayloadTooLarge(
            f"content is {len(content)} bytes, over the limit of {max_bytes}",
            details={"limit": max_bytes, "size": len(content)},
        )
    if content.startswith(_FOREIGN_BOMS):
        raise ValidationError("content must be UTF-8, not UTF-16 or UTF-32")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"content is not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise ValidationError("content is empty")
    return text


def _read(text: str) -> tuple[Any, dict[str, int]]:
    """The data of ``text`` and the line of each of its nodes, every event checked
    before it is built; a problem found while building is raised only once the whole
    stream has passed the checks, which come first."""
    loader = _CoreLoader(text)
    builder = DataBuilder(loader)
    _walk(loader, builder.add)
    if builder.problem is not None:
        raise builder.problem
    return builder.root, builder.lines


_BUILD_PROBLEM = object()


def _read_plain(text: str) -> Any:
    """The data of ``text``, under the same checks in the same order as ``_read`` but
    without the places of its nodes: ``_BUILD_PROBLEM`` when the data cannot be built
    (``_read`` then says where and why). Every spec written is read here, so checking
    and building share one loop over the events, its state in local variables (a
    builder object called per event cost ~20% of a read)."""
    loader = _CoreLoader(text)
    get_event = loader.get_event
    resolved = resolved_tags.get
    building = True
    depth = documents = count = 0
    root: Any = None
    # The open mapping or sequence (None at the top), whether it is a mapping, and a
    # mapping's key awaiting its value; the ones it is nested in, on the stack.
    data: Any = None
    mapping = keyed = False
    key: Any = None
    stack: list[tuple[Any, bool, Any, bool]] = []
    try:
        while (event := get_event()) is not None:
            count += 1
            if count > MAX_EVENTS:
                raise _too_many(event)
            kind = type(event)
            if kind is _SCALAR:
                tag = event.tag
                if event.anchor is not None or (tag is not None and tag not in CORE_TAGS):
                    _check_node_event(event)
                if not building:
                    continue
                value = event.value
                if tag is None or tag == "!":
                    tag = resolved((value, event.implicit)) or scalar_tag(
                        loader, value, event.implicit
                    )
                if mapping and not keyed:  # a key: text, and not one already there
                    building = tag == STR_TAG and value not in data
                    key, keyed = value, True
                    continue
                if tag != STR_TAG:
                    value = plain_scalar(loader, tag, value, event)
                    if value is FAILS:
                        building = False
                        continue
            elif kind in _OPENING:
                tag = event.tag
                if event.anchor is not None or (tag is not None and tag not in CORE_TAGS):
                    _check_node_event(event)
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(event)
                if not building:
                    continue
                opens_map = kind is yaml.MappingStartEvent
                if tag is None or tag == "!":
                    tag = collection_tag(loader, opens_map, event.implicit)
                # A mapping or list as a key, or a collection tagged as something else.
                if (mapping and not keyed) or tag != (MAP_TAG if opens_map else SEQ_TAG):
                    building = False
                    continue
                stack.append((data, mapping, key, keyed))
                data, mapping, keyed = ({} if opens_map else []), opens_map, False
                continue
            elif kind in _CLOSING:
                depth -= 1
                if not building:
                    continue
                value = data
                data, mapping, key, keyed = stack.pop()
            else:
                documents = _other_event(event, kind, documents)
                continue
            # A value is complete: it goes into the open collection, or is the root.
            if data is None:
                root = value
            elif mapping:
                data[key] = value
                keyed = False
            else:
                data.append(value)
    finally:
        loader.dispose()
    if documents == 0:
        raise ValidationError("content holds no YAML document")
    return root if building else _BUILD_PROBLEM


def _walk(loader: Any, build: Callable[[Any, type], bool]) -> bool:
    """Check each event of ``loader``'s stream, then hand it to ``build`` until that
    answers False (nothing more can be built; the checks go on to the end): the checks
    of ``_read_plain``, in the same order, for the reader that notes places."""
    check_event, get_event = loader.check_event, loader.get_event
    building = True
    depth = documents = count = 0
    try:
        while check_event():
            event = get_event()
            count += 1
            kind = type(event)
            if count > MAX_EVENTS:
                raise _too_many(event)
            if kind is _SCALAR:
                _check_node_event(event)
            elif kind in _OPENING:
                _check_node_event(event)
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(event)
            elif kind in _CLOSING:
                depth -= 1
            else:
                documents = _other_event(event, kind, documents)
            if building:
                building = build(event, kind)
    finally:
        loader.dispose()
    if documents == 0:
        raise ValidationError("content holds no YAML document")
    return building


_SCALAR = yaml.ScalarEvent
_OPENING = frozenset({yaml.MappingStartEvent, yaml.SequenceStartEvent})
_CLOSING = frozenset({yaml.MappingEndEvent, yaml.SequenceEndEvent})


def _line(event: yaml.Event) -> int:
    return event.start_mark.line + 1 if event.start_mark else 0


def _too_many(event: yaml.Event) -> ValidationError:
    return ValidationError(f"line {_line(event)}: content has more than {MAX_EVENTS} YAML nodes")


def _too_deep(event: yaml.Event) -> ValidationError:
    return ValidationError(f"line {_line(event)}: nesting is deeper than {MAX_DEPTH} levels")


def _other_event(event: yaml.Event, kind: type, documents: int) -> int:
    """The documents begun so far, counting ``event`` (neither a scalar nor a collection's
    start or end): an alias or a second document is refused."""
    if kind is yaml.AliasEvent:
        _check_node_event(event)
    elif kind is yaml.DocumentStartEvent:
        documents += 1
        if documents > 1:
            raise ValidationError(f"line {_line(event)}: only one YAML document is allowed")
    return documents


def _check_node_event(event: Any) -> None:
    """Refuses an alias, an anchor, or a tag outside the core schema (``_read_plain``
    makes the same test inline before calling this, to keep its loop tight)."""
    if type(event) is yaml.AliasEvent:
        raise ValidationError(f"line {_line(event)}: aliases (*{event.anchor}) are not allowed")
    if event.anchor is not None:
        raise ValidationError(f"line {_line(event)}: anchors (&{event.anchor}) are not allowed")
    tag = event.tag
    if tag is not None and tag not in CORE_TAGS:
        raise ValidationError(f"line {_line(event)}: the tag {short_tag(tag)} is not allowed")


def _yaml_message(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        problem = exc.problem or "syntax error"
        message = f"invalid YAML at line {exc.problem_mark.line + 1}: {problem}"
        # The context says where the broken construct began, e.g. an unclosed quote.
        if exc.context and exc.context_mark is not None:
            message += f" ({exc.context} at line {exc.context_mark.line + 1})"
        return message
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int):
        # PyYAML reports the offending character by its code point.
        return f"invalid YAML: the character U+{exc.character:04X} is not allowed"
    return "invalid YAML"
