"""Spec types: built-in schemas and checks, evaluation, and types from outside."""

from __future__ import annotations

import json
import socket
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from specsvc.errors import TypeNotFound, ValidationError
from specsvc.spectypes import SpecType, SpecTypeRegistry, sources
from specsvc.spectypes.regex_rules import MAX_DEPTH, MAX_NODES

REGISTRY = SpecTypeRegistry.load(use_entry_points=False)
REGEX = REGISTRY.get("regex-rules")
WORKFLOW = REGISTRY.get("approval-workflow")


def leaf(field: str, matches: Any) -> dict[str, Any]:
    return {"field": field, "matches": matches}


def step(
    step_id: str, on_approve: str = "approved", on_reject: str = "rejected", **extra: Any
) -> dict[str, Any]:
    fields = {"approvers": {"roles": ["editor"]}, "min_approvals": 1, **extra}
    return {"id": step_id, **fields, "on_approve": on_approve, "on_reject": on_reject}


def paths(problems: list[dict[str, Any]]) -> list[str]:
    return [problem["path"] for problem in problems]


def test_the_built_in_types_are_registered() -> None:
    assert REGISTRY.names() == ["approval-workflow", "generic", "regex-rules"]
    assert [spec_type.name for spec_type in REGISTRY.list()] == REGISTRY.names()
    assert "generic" in REGISTRY and "nope" not in REGISTRY


@pytest.mark.parametrize("name", ["generic", "regex-rules", "approval-workflow"])
def test_built_in_schemas_are_described_draft_2020_12(name: str) -> None:
    shown = REGISTRY.get(name).to_dict()
    assert shown["name"] == name
    assert shown["schema"]["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert shown["schema"]["title"] and shown["description"] == shown["schema"]["description"]


def test_an_unknown_type_is_type_not_found() -> None:
    with pytest.raises(TypeNotFound) as caught:
        REGISTRY.get("nope")
    assert caught.value.details == {"type": "nope"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [({"anything": [1, {"x": None}]}, []), ({}, []), (["a"], [""]), ("text", [""])],
)
def test_generic_accepts_any_mapping(data: Any, expected: list[str]) -> None:
    assert paths(REGISTRY.get("generic").validate(data)) == expected


def test_generic_and_workflow_cannot_be_evaluated() -> None:
    assert REGISTRY.get("generic").evaluate is None
    assert WORKFLOW.evaluate is None


EXAMPLE_RULE = {
    "description": "staff outside XX",
    "rule": {"all": [leaf("email", r"@example\.com$"), {"not": leaf("country", "^XX$")}]},
}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (EXAMPLE_RULE, []),
        ({"rule": {"any": [{"not": {"not": leaf("a", "")}}]}}, []),
        ({}, [""]),
        ({"rule": leaf("a", "x"), "extra": 1}, [""]),
        ({"rule": leaf("a", "x"), "description": 5}, ["/description"]),
        ({"rule": "x"}, ["/rule"]),
        ({"rule": {}}, ["/rule"]),
        ({"rule": {"field": "a"}}, ["/rule"]),
        ({"rule": {"all": []}}, ["/rule/all"]),
        ({"rule": {"all": [leaf("a", "x")], "any": [leaf("a", "x")]}}, ["/rule"]),
        ({"rule": {"not": leaf("a", "x"), "field": "b", "matches": "y"}}, ["/rule"]),
        ({"rule": {"not": leaf("", "x")}}, ["/rule/not/field"]),
        ({"rule": leaf("a", 3)}, ["/rule/matches"]),
        ({"rule": {"any": [{**leaf("a", "x"), "extra": 1}]}}, ["/rule/any/0"]),
    ],
)
def test_regex_rules_schema_problems_are_reported_at_their_paths(
    data: Any, expected: list[str]
) -> None:
    assert sorted(set(paths(REGEX.validate(data)))) == expected


def test_a_node_with_two_operators_says_which_keys_are_allowed() -> None:
    problems = REGEX.validate({"rule": {"all": [leaf("a", "x")], "any": [leaf("a", "x")]}})
    assert problems == [
        {"path": "/rule", "message": "must have exactly one of the keys: all, any, not, field"}
    ]


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=x)", "(?<!y)", "[unclosed"])
def test_patterns_must_compile_under_re2(pattern: str) -> None:
    problems = REGEX.validate({"rule": {"all": [leaf("a", "ok"), leaf("b", pattern)]}})
    assert paths(problems) == ["/rule/all/1/matches"]
    assert problems[0]["message"].startswith("not a valid RE2 regular expression: ")
    assert "b'" not in problems[0]["message"]


def test_semantic_checks_wait_for_the_schema_to_pass() -> None:
    data = {"rule": {"all": [leaf("a", "(?=x)"), leaf("b", 1)]}}
    assert paths(REGEX.validate(data)) == ["/rule/all/1/matches"]
    assert "RE2" not in REGEX.validate(data)[0]["message"]


def nested_nots(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = leaf("a", "x")
    for _ in range(depth - 1):
        node = {"not": node}
    return {"rule": node}


def test_rules_nest_at_most_max_depth() -> None:
    assert REGEX.validate(nested_nots(MAX_DEPTH)) == []
    assert paths(REGEX.validate(nested_nots(MAX_DEPTH + 1))) == ["/rule" + "/not" * MAX_DEPTH]


def test_rules_have_at_most_max_nodes() -> None:
    assert REGEX.validate({"rule": {"any": [leaf("a", "x")] * (MAX_NODES - 1)}}) == []
    too_many = {"rule": {"any": [leaf("a", "x")] * MAX_NODES}}
    assert paths(REGEX.validate(too_many)) == [f"/rule/any/{MAX_NODES - 1}"]


@pytest.mark.parametrize(
    ("rule", "value", "result"),
    [
        (leaf("v", r"@example\.com$"), "ann@example.com", True),
        (leaf("v", "b"), "abc", True),
        (leaf("v", "^b"), "abc", False),
        (leaf("v", "^3$"), 3, True),
        (leaf("v", r"^1\.5$"), 1.5, True),
        (leaf("v", "^true$"), True, True),
        (leaf("v", "^True$"), True, False),
        (leaf("v", "^false$"), False, True),
        (leaf("v", r'^\["a",2\]$'), ["a", 2], True),
        (leaf("v", r'^\{"k":null\}$'), {"k": None}, True),
        (leaf("v", ""), None, False),
        (leaf("v", "é"), "café", True),
        ({"not": leaf("v", "x")}, "x", False),
        ({"not": leaf("v", "x")}, None, True),
        ({"all": [leaf("v", "a"), leaf("v", "b")]}, "ab", True),
        ({"all": [leaf("v", "a"), leaf("v", "c")]}, "ab", False),
        ({"any": [leaf("v", "c"), leaf("v", "b")]}, "ab", True),
        ({"any": [leaf("v", "c"), leaf("v", "d")]}, "ab", False),
    ],
)
def test_evaluation_truth_table(rule: dict[str, Any], value: Any, result: bool) -> None:
    assert REGEX.validate({"rule": rule}) == []
    assert REGEX.evaluate is not None
    assert REGEX.evaluate({"rule": rule}, {"v": value})["result"] is result


def test_a_missing_field_is_false() -> None:
    assert REGEX.evaluate is not None
    assert REGEX.evaluate({"rule": leaf("v", "")}, {"other": "x"})["result"] is False


def test_the_trace_covers_every_node_in_document_order() -> None:
    assert REGEX.evaluate is not None
    outcome = REGEX.evaluate(EXAMPLE_RULE, {"email": "ann@example.com", "country": "XX"})
    assert outcome == {
        "result": False,
        "trace": [
            {"path": "/rule", "op": "all", "result": False},
            {
                "path": "/rule/all/0",
                "op": "match",
                "field": "email",
                "matches": r"@example\.com$",
                "result": True,
            },
            {"path": "/rule/all/1", "op": "not", "result": False},
            {
                "path": "/rule/all/1/not",
                "op": "match",
                "field": "country",
                "matches": "^XX$",
                "result": True,
            },
        ],
    }


def test_evaluation_does_not_short_circuit() -> None:
    assert REGEX.evaluate is not None
    outcome = REGEX.evaluate({"rule": {"any": [leaf("v", "a"), leaf("v", "z")]}}, {"v": "a"})
    assert [(entry["path"], entry["result"]) for entry in outcome["trace"]] == [
        ("/rule", True),
        ("/rule/any/0", True),
        ("/rule/any/1", False),
    ]


@pytest.mark.parametrize("input_value", [["v"], "v=1", None])
def test_evaluation_input_must_be_a_mapping(input_value: Any) -> None:
    assert REGEX.evaluate is not None
    with pytest.raises(ValidationError) as caught:
        REGEX.evaluate(EXAMPLE_RULE, input_value)
    assert paths(caught.value.errors) == ["/input"]


VALID_WORKFLOW = {
    "description": "two-stage review",
    "start": "review",
    "steps": [
        step("review", on_approve="legal"),
        step(
            "legal",
            on_reject="review",
            approvers={"users": ["ann", "bob"]},
            min_approvals=2,
            description="law",
        ),
    ],
}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (VALID_WORKFLOW, []),
        ({"steps": [step("only")]}, []),
        ({}, [""]),
        ({"steps": []}, ["/steps"]),
        ({"steps": [step("a")], "extra": 1}, [""]),
        ({"steps": [{k: v for k, v in step("a").items() if k != "on_reject"}]}, ["/steps/0"]),
        ({"steps": [step("a", colour="red")]}, ["/steps/0"]),
        ({"steps": [step("bad id")]}, ["/steps/0/id"]),
        ({"steps": [step("a", min_approvals=0)]}, ["/steps/0/min_approvals"]),
        ({"steps": [step("a", min_approvals="two")]}, ["/steps/0/min_approvals"]),
        ({"steps": [step("a", approvers={})]}, ["/steps/0/approvers"]),
        ({"steps": [step("a", approvers={"roles": [1]})]}, ["/steps/0/approvers/roles/0"]),
        ({"steps": [step("a", approvers={"groups": ["x"]})]}, ["/steps/0/approvers"]),
        ({"steps": [step("a")], "start": 3}, ["/start"]),
    ],
)
def test_workflow_schema_problems_are_reported_at_their_paths(
    data: Any, expected: list[str]
) -> None:
    assert sorted(set(paths(WORKFLOW.validate(data)))) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"steps": [step("a"), step("b"), step("a")]}, ["/steps/2/id"]),
        ({"steps": [step("approved")]}, ["/steps/0/id"]),
        ({"steps": [step("a")], "start": "b"}, ["/start"]),
        ({"steps": [step("a", on_approve="nowhere")]}, ["/steps/0/on_approve"]),
        ({"steps": [step("a", on_reject="a")]}, ["/steps/0/on_reject"]),
        ({"steps": [step("a", "b", "b"), step("b", "a", "a")]}, ["/steps/0", "/steps/1"]),
        ({"steps": [step("a", "b", "b"), step("b", "a", "c"), step("c")]}, []),
        ({"steps": [step("a", approvers={"roles": [], "users": []})]}, ["/steps/0/approvers"]),
        (
            {"steps": [step("a", approvers={"users": ["ann"]}, min_approvals=2)]},
            ["/steps/0/min_approvals"],
        ),
        ({"steps": [step("a", approvers={"roles": ["r"], "users": ["ann"]}, min_approvals=2)]}, []),
    ],
    ids=[
        "duplicate-id",
        "terminal-id",
        "unknown-start",
        "unknown-target",
        "self-target",
        "cycle-without-exit",
        "cycle-with-exit",
        "nobody-approves",
        "too-few-users",
        "roles-can-make-up-the-number",
    ],
)
def test_workflow_semantic_problems_are_reported_at_their_paths(
    data: Any, expected: list[str]
) -> None:
    assert paths(WORKFLOW.validate(data)) == expected


def test_problems_are_sorted_by_path() -> None:
    data = {
        "steps": [step("b", on_approve="x"), step("a", approvers={"roles": []}, on_reject="y")],
        "start": "z",
    }
    assert paths(WORKFLOW.validate(data)) == [
        "/start",
        "/steps/0/on_approve",
        "/steps/1/approvers",
        "/steps/1/on_reject",
    ]


def write(directory: Path, filename: str, text: str) -> None:
    (directory / filename).write_text(text, encoding="utf-8")


TICKET_SCHEMA = {
    "description": "A support ticket",
    "type": "object",
    "required": ["title"],
    "properties": {"title": {"type": "string"}, "contact": {"format": "email"}},
}


def test_types_come_from_json_and_yaml_files(tmp_path: Path) -> None:
    write(tmp_path, "ticket.json", json.dumps(TICKET_SCHEMA))
    write(tmp_path, "note.yaml", "title: Note\ntype: object\nrequired: [body]\n")
    write(tmp_path, "memo.yml", "type: object\n")
    write(tmp_path, "README.md", "not a schema")
    registry = SpecTypeRegistry.load(str(tmp_path), use_entry_points=False)
    assert registry.names() == [
        "approval-workflow",
        "generic",
        "memo",
        "note",
        "regex-rules",
        "ticket",
    ]
    assert registry.get("ticket").description == "A support ticket"
    assert registry.get("note").description == "Note"
    assert paths(registry.get("ticket").validate({"title": "x", "contact": "nobody"})) == [
        "/contact"
    ]
    assert paths(registry.get("note").validate({})) == [""]


@pytest.mark.parametrize(
    ("filename", "text", "fragment"),
    [
        ("broken.json", "{not json", "broken.json"),
        ("broken.yaml", "a: [1", "broken.yaml"),
        ("listed.json", "[1, 2]", "JSON Schema mapping"),
        ("wrong.json", '{"type": 3}', "wrong.json"),
        ("Bad_Name.json", "{}", "not a valid type name"),
        ("generic.json", "{}", "'generic' is built in"),
    ],
)
def test_a_bad_types_file_stops_startup(
    tmp_path: Path, filename: str, text: str, fragment: str
) -> None:
    write(tmp_path, filename, text)
    with pytest.raises(ValueError, match=fragment):
        SpecTypeRegistry.load(str(tmp_path), use_entry_points=False)


def test_two_files_for_one_type_stop_startup(tmp_path: Path) -> None:
    write(tmp_path, "ticket.json", "{}")
    write(tmp_path, "ticket.yaml", "{}")
    with pytest.raises(ValueError, match="more than once"):
        SpecTypeRegistry.load(str(tmp_path), use_entry_points=False)


def test_a_missing_types_directory_stops_startup(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        SpecTypeRegistry.load(str(tmp_path / "absent"), use_entry_points=False)


def test_a_remote_ref_is_a_problem_and_never_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    remote = SpecType("remote", {"properties": {"a": {"$ref": "https://example.com/x.json"}}})
    assert remote.validate({"b": 1}) == []
    unresolvable = (
        "the type's schema refers to 'https://example.com/x.json', which cannot be resolved"
    )
    assert remote.validate({"a": 1}) == [{"path": "", "message": unresolvable}]
    assert attempts == []


PLUGIN_MODULE = """
from specsvc.spectypes import SpecType

ORDER = SpecType("order", {"type": "object", "required": ["sku"]}, "An order")
INVOICE = {"type": "object", "description": "An invoice"}

def make_receipt():
    return {"type": "object", "required": ["total"]}

WRONG_NAME = SpecType("other", {"type": "object"})
"""


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, metadata.EntryPoint]:
    write(tmp_path, "specsvc_test_plugin.py", PLUGIN_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))

    def entry_point(name: str, attribute: str) -> metadata.EntryPoint:
        return metadata.EntryPoint(
            name, f"specsvc_test_plugin:{attribute}", sources.ENTRY_POINT_GROUP
        )

    return {
        "order": entry_point("order", "ORDER"),
        "invoice": entry_point("invoice", "INVOICE"),
        "receipt": entry_point("receipt", "make_receipt"),
        "mismatch": entry_point("mismatch", "WRONG_NAME"),
        "missing": entry_point("missing", "ABSENT"),
        "generic": entry_point("generic", "INVOICE"),
    }


def install(monkeypatch: pytest.MonkeyPatch, found: list[metadata.EntryPoint]) -> None:
    def entry_points(*, group: str) -> list[metadata.EntryPoint]:
        return found if group == sources.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(metadata, "entry_points", entry_points)


def test_types_come_from_entry_points(
    plugins: dict[str, metadata.EntryPoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    install(monkeypatch, [plugins["order"], plugins["invoice"], plugins["receipt"]])
    registry = SpecTypeRegistry.load()
    assert {"order", "invoice", "receipt"} <= set(registry.names())
    assert registry.get("order").description == "An order"
    assert registry.get("invoice").description == "An invoice"
    assert paths(registry.get("receipt").validate({})) == [""]
    assert "order" not in SpecTypeRegistry.load(use_entry_points=False)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("mismatch", "named 'other'"), ("missing", "ABSENT"), ("generic", "built in")],
)
def test_a_bad_entry_point_stops_startup(
    plugins: dict[str, metadata.EntryPoint],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    fragment: str,
) -> None:
    install(monkeypatch, [plugins[name]])
    with pytest.raises(ValueError, match=fragment):
        SpecTypeRegistry.load()
