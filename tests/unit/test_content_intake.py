"""Spec content intake: only bounded, plain YAML mappings become data."""

from __future__ import annotations

import time

import pytest

from specsvc.content.intake import MAX_DEPTH, MAX_EVENTS, ParsedContent, parse_content
from specsvc.errors import PayloadTooLarge, ValidationError
from tests.support.hostile_inputs import BILLION_LAUGHS

LIMIT = 2048


def parse(content: str | bytes, max_bytes: int = LIMIT) -> ParsedContent:
    return parse_content(content, max_bytes=max_bytes)


def rejection(content: str | bytes, max_bytes: int = LIMIT) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        parse(content, max_bytes)
    return caught.value


def test_a_plain_mapping_becomes_json_compatible_data() -> None:
    parsed = parse("name: x\ncount: 3\nratio: 1.5\nenabled: true\nnothing: ~\nitems: [a, 2]\n")
    assert parsed.data == {
        "name": "x",
        "count": 3,
        "ratio": 1.5,
        "enabled": True,
        "nothing": None,
        "items": ["a", 2],
    }


def test_comments_and_formatting_do_not_change_the_data() -> None:
    compact = parse("a: {b: [1, 2], c: x}\n")
    spread = parse("# heading\na:   # why\n  b:\n    - 1\n    -   2\n  c: 'x'\n\n")
    assert compact.data == spread.data


def test_lines_map_each_pointer_to_its_line() -> None:
    parsed = parse(
        "# intro\nrule:\n  all:\n    - field: a\n      matches: x\n    - {not: {field: b}}\n"
    )
    assert parsed.lines == {
        "": 2,
        "/rule": 2,
        "/rule/all": 3,
        "/rule/all/0": 4,
        "/rule/all/0/field": 4,
        "/rule/all/0/matches": 5,
        "/rule/all/1": 6,
        "/rule/all/1/not": 6,
        "/rule/all/1/not/field": 6,
    }


def test_lines_escape_pointer_tokens() -> None:
    parsed = parse("a/b:\n  c~d: 1\n")
    assert parsed.data == {"a/b": {"c~d": 1}}
    assert parsed.lines["/a~1b/c~0d"] == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("date: 2024-02-30\n", {"date": "2024-02-30"}),
        ("date: 2024-01-01\n", {"date": "2024-01-01"}),
        ("when: 2024-01-01T10:00:00Z\n", {"when": "2024-01-01T10:00:00Z"}),
        ("sign: =\n", {"sign": "="}),
        ("'<<': 1\n", {"<<": 1}),
        ("'yes': 1\n'1': 2\n", {"yes": 1, "1": 2}),
        ("a: !!str 3\nb: !!int '4'\n", {"a": "3", "b": 4}),
        ("big: 1e400\n", {"big": "1e400"}),
    ],
    ids=[
        "impossible-date",
        "date",
        "timestamp",
        "equals-sign",
        "quoted-merge",
        "quoted-keys",
        "core-tags",
        "e-notation",
    ],
)
def test_values_that_stay_plain(content: str, expected: dict[str, object]) -> None:
    assert parse(content).data == expected


@pytest.mark.parametrize(
    ("content", "path", "fragment"),
    [
        ("a: !!python/object/apply:os.system ['echo hi']\n", "", "!!python/object/apply:os.system"),
        ("a: !!binary aGVsbG8=\n", "", "!!binary"),
        ("a: !!set {x, y}\n", "", "!!set"),
        ("a: !!timestamp 2024-01-01\n", "", "!!timestamp"),
        ("a: !!omap [{x: 1}]\n", "", "!!omap"),
        ("a: !foo bar\n", "", "!foo"),
        ("a: &x 1\n", "", "anchors"),
        ("a: 1\nb: *x\n", "", "alias"),
        ("<<: {a: 1}\n", "", "merge keys"),
        ("a: 1\nb:\n  c: 1\n  c: 2\n", "/b/c", "duplicate key 'c'"),
        ("yes: 1\n", "", "'yes' reads as bool"),
        ("true: 1\n", "", "'true' reads as bool"),
        ("on: 1\n", "", "'on' reads as bool"),
        ("1: x\n", "", "'1' reads as int"),
        ("1.5: x\n", "", "'1.5' reads as float"),
        ("~: x\n", "", "'~' reads as null"),
        ("a:\n  [x]: 1\n", "/a", "not a list or mapping"),
        ("a: .nan\n", "/a", "NaN"),
        ("a: [.inf]\n", "/a/0", "infinity"),
        ("a: -.inf\n", "/a", "infinity"),
        ("a: !!int abc\n", "/a", "!!int"),
        ("a: !!bool maybe\n", "/a", "!!bool"),
        ("a: !!map text\n", "/a", "!!map"),
        ("a: 1\n---\nb: 2\n", "", "one YAML document"),
        ("- a\n- b\n", "", "mapping"),
        ("just text\n", "", "mapping"),
        ("", "", "empty"),
        ("  \n\t\n", "", "empty"),
        ("# only a comment\n", "", "no YAML document"),
        ("a: [1, 2\n", "", "line 2"),
        ("a: 1\nb: 'x\n", "", "quoted scalar at line 2"),
        ("a: 1\n b: 2\n", "", "line 2"),
        ("a: \x00\n", "", "U+0000"),
    ],
)
def test_content_that_is_rejected(content: str, path: str, fragment: str) -> None:
    error = rejection(content)
    assert [problem["path"] for problem in error.errors] == [path]
    assert fragment in error.message
    assert "Traceback" not in error.message


def test_billion_laughs_fails_before_anything_is_expanded() -> None:
    assert 350 < len(BILLION_LAUGHS.encode()) < 450
    started = time.perf_counter()
    error = rejection(BILLION_LAUGHS)
    elapsed = time.perf_counter() - started
    assert "anchors (&a)" in error.message
    print(f"billion laughs rejected in {elapsed * 1000:.2f} ms")


@pytest.mark.parametrize("opening", ["[", "{a: ", "- "])
def test_deep_nesting_is_a_validation_error_not_a_recursion_error(opening: str) -> None:
    error = rejection(opening * 1000, max_bytes=10_000)
    assert f"deeper than {MAX_DEPTH}" in error.message


def test_nesting_up_to_the_depth_limit_passes() -> None:
    at_limit = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    over_limit = "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse(at_limit).data["a"] is not None
    assert "deeper than" in rejection(over_limit).message


def test_too_many_nodes_is_a_validation_error() -> None:
    items = ",".join(["1"] * MAX_EVENTS)
    with pytest.raises(ValidationError, match=f"more than {MAX_EVENTS} YAML nodes"):
        parse(f"a: [{items}]", max_bytes=10 * MAX_EVENTS)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("a: b".encode("utf-16"), "not UTF-16"),
        ("a: b".encode("utf-32"), "not UTF-16 or UTF-32"),
        (b"a: \xc3\x28\n", "not valid UTF-8"),
        (b"a: \xff\n", "not valid UTF-8"),
        ("a: \udc00\n", "not encodable as UTF-8"),
    ],
    ids=["utf-16-bom", "utf-32-bom", "truncated-sequence", "invalid-byte", "lone-surrogate"],
)
def test_content_must_be_utf8(content: str | bytes, fragment: str) -> None:
    assert fragment in rejection(content).message


def test_utf8_bytes_are_accepted() -> None:
    assert parse("name: café\n".encode()).data == {"name": "café"}


def test_size_is_counted_in_utf8_bytes() -> None:
    content = "a: " + "é" * 10  # 3 + 20 bytes, but 13 characters
    assert parse(content, max_bytes=23).data == {"a": "é" * 10}
    with pytest.raises(PayloadTooLarge) as caught:
        parse(content, max_bytes=22)
    assert caught.value.details == {"limit": 22, "size": 23}


def test_size_is_checked_before_parsing() -> None:
    with pytest.raises(PayloadTooLarge):
        parse(BILLION_LAUGHS, max_bytes=100)


def test_parsed_content_is_immutable() -> None:
    parsed = parse("a: 1\n")
    with pytest.raises(AttributeError):
        parsed.data = {}  # type: ignore[misc]
