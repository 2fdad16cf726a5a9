"""Hardened intake of spec content: bounded, plain YAML becomes JSON-compatible data.

Everything a user sends is checked before PyYAML builds anything from it: size on
the encoded bytes, then anchors, aliases, tags, depth and node count on each event of
the stream before the event is used, so neither a "billion laughs" document nor deep
nesting ever gets built. The text is parsed once: the data is built from the same
events as they are checked.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Any

import yaml

from specsvc.content.yamltree import CORE_TAGS, DataBuilder, short_tag
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
    lines: dict[str, int]


def parse_content(content: str | bytes, *, max_bytes: int) -> ParsedContent:
    """Parse one YAML mapping, or raise ``PayloadTooLarge`` / ``ValidationError``."""
    text = _decode(content, max_bytes)
    try:
        data, lines = _read(text)
    except ValidationError:
        raise
    except yaml.YAMLError as exc:
        raise ValidationError(_yaml_message(exc)) from None
    except Exception as exc:  # nothing a user sends may escape as a server error
        raise ValidationError(f"content is not readable YAML ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise ValidationError("the top level of the content must be a mapping")
    return ParsedContent(data=data, lines=lines)


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
    depth = documents = count = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            count += 1
            kind = type(event)
            if count > MAX_EVENTS:
                raise ValidationError(
                    f"line {_line(event)}: content has more than {MAX_EVENTS} YAML nodes"
                )
            if kind in _NODE_EVENTS:
                _check_node_event(event)
            if kind in _OPENING:
                depth += 1
                if depth > MAX_DEPTH:
                    raise ValidationError(
                        f"line {_line(event)}: nesting is deeper than {MAX_DEPTH} levels"
                    )
            elif kind in _CLOSING:
                depth -= 1
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise ValidationError(
                        f"line {_line(event)}: only one YAML document is allowed"
                    )
            builder.add(event)
    finally:
        loader.dispose()
    if documents == 0:
        raise ValidationError("content holds no YAML document")
    if builder.problem is not None:
        raise builder.problem
    return builder.root, builder.lines


_NODE_EVENTS = frozenset(
    {yaml.AliasEvent, yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent}
)
_OPENING = frozenset({yaml.MappingStartEvent, yaml.SequenceStartEvent})
_CLOSING = frozenset({yaml.MappingEndEvent, yaml.SequenceEndEvent})


def _line(event: yaml.Event) -> int:
    return event.start_mark.line + 1 if event.start_mark else 0


def _check_node_event(event: Any) -> None:
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
