"""Diffs between spec versions: the text diff and the changed paths."""

from __future__ import annotations

from typing import Any

import pytest

from specsvc.content.diffing import changed_paths, diff_contents
from specsvc.content.intake import parse_content


def diff(old_text: str, new_text: str) -> dict[str, Any]:
    old = parse_content(old_text, max_bytes=4096).data
    new = parse_content(new_text, max_bytes=4096).data
    return diff_contents("limits", 1, old_text, old, 3, new_text, new)


def test_identical_versions_have_no_diff_and_no_changes() -> None:
    assert diff("a: 1\n", "a: 1\n") == {"from": 1, "to": 3, "diff": "", "changes": []}


def test_the_diff_is_unified_and_labelled_with_name_and_version() -> None:
    result = diff("a: 1\nb: 2\n", "a: 1\nb: 3\n")
    assert result["diff"] == (
        "--- limits@v1\n+++ limits@v3\n@@ -1,2 +1,2 @@\n a: 1\n-b: 2\n+b: 3\n"
    )
    assert result["changes"] == [{"op": "replace", "path": "/b"}]


def test_a_comment_changes_the_text_but_not_the_data() -> None:
    result = diff("a: 1\n", "# why\na: 1\n")
    assert result["diff"].endswith("@@ -1 +1,2 @@\n+# why\n a: 1\n")
    assert result["changes"] == []


def test_line_endings_are_kept() -> None:
    result = diff("a: 1\r\nb: 2\r\n", "a: 1\r\nb: 5\r\n")
    assert "-b: 2\r\n+b: 5\r\n" in result["diff"]


def test_a_last_line_without_newline_is_marked() -> None:
    result = diff("a: 1", "a: 2\n")
    assert result["diff"].endswith("-a: 1\n\\ No newline at end of file\n+a: 2\n")


@pytest.mark.parametrize(
    ("old", "new", "changes"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, [("add", "/b")]),
        ({"a": 1, "b": 2}, {"a": 1}, [("remove", "/b")]),
        ({"a": {"b": 1}}, {"a": {"b": 2}}, [("replace", "/a/b")]),
        ({"a": {"b": 1}}, {"a": [1]}, [("replace", "/a")]),
        ({"a": 1}, {"a": 1.0}, [("replace", "/a")]),
        ({"a": 1}, {"a": True}, [("replace", "/a")]),
        ({"a": None}, {"a": "x"}, [("replace", "/a")]),
        ({"a": [1, 2, 3]}, {"a": [1, 9]}, [("replace", "/a/1"), ("remove", "/a/2")]),
        ({"a": [1]}, {"a": [1, {"x": 1}, 3]}, [("add", "/a/1"), ("add", "/a/2")]),
        ({"a/b": {"c~d": 1}}, {"a/b": {"c~d": 2}}, [("replace", "/a~1b/c~0d")]),
        (
            {"z": 1, "m": {"x": 1}, "a": 1},
            {"new": 0, "a": 2, "m": {"x": 1, "y": 2}},
            [("remove", "/z"), ("add", "/m/y"), ("replace", "/a"), ("add", "/new")],
        ),
    ],
    ids=[
        "add-key",
        "remove-key",
        "nested-scalar",
        "type-change",
        "int-to-float",
        "int-to-bool",
        "null-to-text",
        "list-shrinks",
        "list-grows",
        "escaped-keys",
        "document-order",
    ],
)
def test_changes_compare_the_parsed_data(
    old: dict[str, Any], new: dict[str, Any], changes: list[tuple[str, str]]
) -> None:
    expected = [{"op": op, "path": path} for op, path in changes]
    assert changed_paths(old, new) == expected
    assert diff_contents("s", 1, "", old, 2, "", new)["changes"] == expected
