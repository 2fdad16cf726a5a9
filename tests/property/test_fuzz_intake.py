"""Fuzzing the content intake and the built-in spec types' validators.

Whatever arrives (any text, any bytes, YAML-ish documents full of anchors, aliases,
tags, huge numbers, duplicate keys, deep nesting and long strings, or data of any shape
handed to a type's validator, any input to a valid rule's evaluation), the only
exceptions allowed out are ``ValidationError`` and ``PayloadTooLarge``; anything else
fails. What is accepted is JSON-compatible data whose top level is a mapping, and a
validator answers a list of problems, each with a JSON pointer to a node of the data
and a message.

The default run is short and the same every time (derandomized, a few seconds). Fuzz
longer, with new examples on every run, by setting the number of examples per test:

    SPECSVC_FUZZ_EXAMPLES=20000 pytest tests/property/test_fuzz_intake.py -n 0
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from specsvc import SpecService
from specsvc.config import Settings
from specsvc.content.intake import (
    _BUILD_PROBLEM,
    MAX_DEPTH,
    _CoreLoader,
    _read,
    _read_plain,
    parse_content,
)
from specsvc.errors import PayloadTooLarge, ValidationError
from specsvc.spectypes import regex_rules
from specsvc.spectypes.base import SpecType
from specsvc.spectypes.sources import builtin_types
from tests.support.budgets import budget
from tests.support.hostile_inputs import YAML_ATTACKS

ALLOWED = (ValidationError, PayloadTooLarge)
TYPES: dict[str, SpecType] = {spec_type.name: spec_type for spec_type in builtin_types()}
LIMITS = st.sampled_from((2048, 2048, 1 << 20))  # the default, and room for huge inputs
fuzz = budget("SPECSVC_FUZZ_EXAMPLES", 150)

# ---- YAML-ish text -------------------------------------------------------------------

KEYS = (
    "a", "b", "a", "rule", "field", "matches", "all", "any", "not", "steps", "id", "start",
    "approvers", "roles", "users", "min_approvals", "on_approve", "on_reject",
    "description", "<<", "yes", "1", "null", "~", "'q'", '"d\\x41"', "? k", "[k]", "{k: v}",
)  # fmt: skip
SCALARS = (
    "1", "-0", "0x1F", "0o17", "0b101", "1_000", "+.inf", "-.inf", ".nan", "1e400",
    "-1e-400", "3.", "yes", "No", "on", "~", "null", "true", "=", "<<", "2024-13-45",
    "2001-12-14t21:59:43.10-05:00", "'single ''quoted'''", '"\\u263A \\x00 \\t"', '"\\ud800"',
    "|\n  literal\n", ">-\n  folded\n", "- x", "@", "`", "%", "!", "&", "*", "é", "\u202e",
    "\ufeff", "\x85", "\u2028", "",
)  # fmt: skip
DECORATIONS = (
    "", "", "", "", "&anchor ", "!!str ", "!!int ", "!!float ", "!!bool ", "!!null ",
    "!!map ", "!!seq ", "!!binary ", "!!set ", "!!omap ", "!!timestamp ", "!!merge ",
    "!!python/object/apply:os.system ", "!!python/name:os.system ", "!local ",
    "!<tag:example.com,2000:x> ", "&a !!str ",
)  # fmt: skip

huge_numbers = st.integers(min_value=1, max_value=6000).map(lambda n: "9" * n)
long_strings = st.integers(min_value=100, max_value=70_000).map(lambda n: "x" * n)
scalars = st.one_of(
    st.sampled_from(SCALARS),
    st.integers().map(str),
    st.floats().map(repr),
    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=12),
    huge_numbers,
    long_strings,
)


def _flow(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    members = st.tuples(st.sampled_from(KEYS), children).map(lambda kv: f"{kv[0]}: {kv[1]}")
    return st.one_of(
        st.lists(children, max_size=5).map(lambda items: "[" + ", ".join(items) + "]"),
        st.lists(members, max_size=5).map(lambda items: "{" + ", ".join(items) + "}"),
    )


nodes = st.recursive(scalars, _flow, max_leaves=25)
deep = st.integers(min_value=MAX_DEPTH - 2, max_value=3 * MAX_DEPTH).map(
    lambda n: "[" * n + "]" * n
)
decorated = st.one_of(
    st.tuples(st.sampled_from(DECORATIONS), nodes).map("".join),
    st.sampled_from(("*anchor", "*a", "*missing")),
    deep,
)
# Mostly plain values, so that many documents get through to the validators.
values = st.integers(0, 7).flatmap(lambda pick: decorated if pick == 0 else nodes)
lines = st.tuples(st.sampled_from(KEYS), values).map(lambda kv: f"{kv[0]}: {kv[1]}")
PREFIXES = ("", "", "---\n", "%YAML 1.1\n---\n", "%TAG !e! tag:e.com:\n---\n", "\ufeff", "# c\n")
SUFFIXES = ("", "", "\n...\n", "\n---\nb: 1\n", "\n- list\n", "\n  bad: indent\n", "\t\n")


@st.composite
def yamlish(draw: st.DrawFn) -> str:
    """A document built from fragments YAML parsers trip on, often a plain mapping."""
    body = "\n".join(draw(st.lists(lines, min_size=1, max_size=5)))
    text = draw(st.sampled_from(PREFIXES)) + body + draw(st.sampled_from(SUFFIXES))
    if draw(st.integers(0, 3)) == 0:  # now and then a stray character or slice somewhere
        at = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:at] + draw(st.text(max_size=3)) + text[at + draw(st.integers(0, 3)) :]
    return text


# ---- data of any shape, and shaped like each built-in type ---------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=10**300, max_value=10**400),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=10),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
patterns = st.one_of(
    st.text(alphabet="()[]{}*+?|\\^$.:-,0123456789aAbpPzCQE<>=!#", max_size=24),
    st.sampled_from(("(a", "a{2,1}", "a{1001}", "(?P<n>a)(?P=n)", "(?=a)", "\\C", "\\pN",
                     "((((a{100}){100}){100}){100})", "[[:alpha:]]", "(?i)x", "\\x{110000}")),
)  # fmt: skip


def _one(key: str, value: Any) -> dict[str, Any]:
    return {key: value}


def _nested(node: dict[str, Any], depth: int) -> dict[str, Any]:
    for _ in range(depth):
        node = {"not": node}
    return node


leaves = st.builds(lambda f, m: {"field": f, "matches": m}, st.text(max_size=6), patterns)
# Well-formed rule trees reach the type's own checks (RE2, depth, node count)...
rule_trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.builds(_one, st.sampled_from(("all", "any")), st.lists(children, min_size=1)),
        st.builds(_one, st.just("not"), children),
    ),
    max_leaves=40,
)
deep_rules = st.integers(min_value=1, max_value=300).map(
    lambda n: _nested({"field": "f", "matches": "x"}, n)
)
wide_rules = st.integers(min_value=1, max_value=300).map(
    lambda n: {"all": [{"field": "f", "matches": "x"}] * n}
)
# ...and malformed ones the schema must refuse.
rule_nodes = st.recursive(
    st.one_of(leaves, json_values),
    lambda children: st.one_of(
        st.builds(_one, st.sampled_from(("all", "any")), st.lists(children, max_size=4)),
        st.builds(_one, st.just("not"), children),
        st.dictionaries(st.sampled_from(("all", "any", "not", "field", "matches")), children),
    ),
    max_leaves=40,
)
rules = st.one_of(rule_trees, rule_trees, deep_rules, wide_rules, rule_nodes)

step_ids = st.sampled_from(("s1", "s2", "s3", "s4"))
targets = st.one_of(step_ids, st.sampled_from(("approved", "rejected")))
names = st.lists(st.sampled_from(("r1", "r2", "u1", "u2", "u3")), unique=True, max_size=3)
# Well-formed steps reach the type's own checks (references, ends, approvers)...
good_steps = st.fixed_dictionaries(
    {
        "id": st.one_of(step_ids, st.sampled_from(("approved", "rejected"))),
        "approvers": st.fixed_dictionaries({}, optional={"roles": names, "users": names}),
        "min_approvals": st.integers(min_value=1, max_value=5),
        "on_approve": targets,
        "on_reject": targets,
    }
)
# ...and malformed ones the schema must refuse.
bad_steps = st.fixed_dictionaries(
    {
        "id": st.one_of(step_ids, json_values),
        "approvers": st.one_of(
            st.fixed_dictionaries({}, optional={"roles": json_values, "users": json_values}),
            json_values,
        ),
        "min_approvals": st.one_of(st.integers(), st.floats(allow_nan=False), json_values),
        "on_approve": st.one_of(targets, json_values),
        "on_reject": st.one_of(targets, json_values),
    },
    optional={"description": json_values, "extra": json_values},
)
workflows = st.fixed_dictionaries(
    {
        "steps": st.one_of(
            st.lists(good_steps, min_size=1, max_size=6),
            st.lists(good_steps, min_size=1, max_size=6),
            st.lists(st.one_of(good_steps, bad_steps), max_size=5),
            json_values,
        )
    },
    optional={"start": st.one_of(step_ids, json_values)},
)
shaped = st.one_of(
    st.fixed_dictionaries({"rule": rules}, optional={"description": json_values}),
    workflows,
    st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    json_values,
)


# ---- what every answer must be -------------------------------------------------------


def intake(content: str | bytes, max_bytes: int) -> dict[str, Any] | None:
    """The parsed data, checked to be JSON-compatible; None when the content is refused."""
    try:
        parsed = parse_content(content, max_bytes=max_bytes)
    except ALLOWED as error:
        assert error.errors if isinstance(error, ValidationError) else error.details
        return None
    assert isinstance(parsed.data, dict)
    assert_json_compatible(parsed.data)
    assert all(isinstance(line, int) and line >= 1 for line in parsed.lines.values())
    assert set(parsed.lines) == set(pointers(parsed.data)), "a line for every node, no other"
    return parsed.data


def pointers(value: Any, path: str = "") -> Iterator[str]:
    """The RFC 6901 pointer of every node of ``value``, written out here."""
    yield path
    if isinstance(value, dict | list):
        for key, member in value.items() if isinstance(value, dict) else enumerate(value):
            token = str(key).replace("~", "~0").replace("/", "~1")
            yield from pointers(member, f"{path}/{token}")


def assert_json_compatible(value: Any, depth: int = 0) -> None:
    assert depth <= MAX_DEPTH + 1, "deeper than the intake allows"
    if isinstance(value, dict):
        for key, member in value.items():
            assert isinstance(key, str), repr(key)
            assert_json_compatible(member, depth + 1)
    elif isinstance(value, list):
        for member in value:
            assert_json_compatible(member, depth + 1)
    elif isinstance(value, float):
        assert math.isfinite(value), value
    else:
        assert value is None or isinstance(value, bool | int | str), repr(value)


def validated(data: Any) -> None:
    """Every built-in type answers a list of problems for ``data`` (or refuses it with
    one of the allowed errors)."""
    for name, spec_type in TYPES.items():
        try:
            problems = spec_type.validate(data)
        except ALLOWED:
            continue
        assert isinstance(problems, list), (name, problems)
        for problem in problems:
            assert set(problem) == {"path", "message"}, (name, problem)
            assert isinstance(problem["path"], str), (name, problem)
            assert problem["path"] == "" or problem["path"].startswith("/"), (name, problem)
            assert isinstance(problem["message"], str) and problem["message"], (name, problem)
        json.dumps(problems)  # an API answers them as JSON
        nodes = set(pointers(data))
        for problem in problems:  # a problem points at a node of the content
            assert problem["path"] in nodes, (name, problem)
        if not isinstance(data, dict):
            assert problems, f"{name} accepted {data!r}, which is not a mapping"


# ---- the fuzz targets ----------------------------------------------------------------


def accepted_then_validated(content: str | bytes, max_bytes: int) -> None:
    data = intake(content, max_bytes)
    if data is not None:
        validated(data)


@budget("SPECSVC_FUZZ_EXAMPLES", 1000)  # cheap: most of it is refused at once
@given(st.one_of(st.text(), st.binary()), LIMITS)
def test_any_text_or_bytes_are_data_or_a_validation_error(
    content: str | bytes, max_bytes: int
) -> None:
    accepted_then_validated(content, max_bytes)


@fuzz
@given(yamlish())
def test_accepted_documents_read_as_pyyaml_composes_them(text: str) -> None:
    """The data built from the parser's events in one pass equals what PyYAML's own
    composer and constructor make of the same text with the same resolvers."""
    data = intake(text, 1 << 20)
    if data is not None:
        assert data == yaml.load(text, Loader=_CoreLoader)


def outcome(read: Callable[[str], Any], text: str) -> tuple[str, Any]:
    try:
        return "data", read(text)
    except Exception as error:  # compared below: the same class, the same words
        return type(error).__name__, str(error)


@fuzz
@given(st.one_of(yamlish(), st.sampled_from(tuple(YAML_ATTACKS.values()))))
def test_the_plain_reader_builds_and_refuses_as_the_place_noting_reader(text: str) -> None:
    """Specs are read without noting places; a document whose data cannot be built is
    read again, noting them, to say where. Both read the same data, refuse the same
    documents with the same message, and the plain one defers exactly the refusals that
    need a place."""
    plain, noted = outcome(_read_plain, text), outcome(lambda t: _read(t)[0], text)
    if plain[0] == "data" and plain[1] is _BUILD_PROBLEM:
        assert noted[0] == "ValidationError", (plain, noted)
    else:
        assert plain == noted


@fuzz
@given(st.one_of(yamlish(), st.sampled_from(tuple(YAML_ATTACKS.values()))), LIMITS)
def test_yamlish_documents_are_data_or_a_validation_error(text: str, max_bytes: int) -> None:
    accepted_then_validated(text, max_bytes)
    accepted_then_validated(text.encode("utf-8", "surrogatepass"), max_bytes)


@fuzz
@given(shaped)
def test_every_validator_answers_problems_for_data_of_any_shape(data: Any) -> None:
    validated(data)


@fuzz
@given(rules)
def test_a_rule_found_sound_without_pointers_has_no_problem_with_them(rule: Any) -> None:
    """regex-rules first walks a rule without naming its nodes; only a rule found
    unsound there is walked again to say where. Both walks agree on every rule the
    schema lets through."""
    data = {"rule": rule}
    if not Draft202012Validator(TYPES["regex-rules"].schema).is_valid(data):
        return  # refused by the schema: the checks run only on what it accepts
    assert regex_rules._sound(rule) == (not regex_rules.problems(data))


@fuzz
@given(
    rule=rule_trees,
    input=st.dictionaries(st.sampled_from(("", "f", "e", "x")), json_values, max_size=4),
)
def test_a_valid_rule_evaluates_any_input_to_a_result_and_a_trace(
    rule: dict[str, Any], input: dict[str, Any]
) -> None:
    """regex-rules evaluates what its validator accepted, against any JSON input."""
    spec_type = TYPES["regex-rules"]
    if spec_type.validate({"rule": rule}):
        return
    assert spec_type.evaluate is not None
    try:
        outcome = spec_type.evaluate({"rule": rule}, input)
    except ALLOWED:
        return
    assert isinstance(outcome["result"], bool)
    assert outcome["trace"][0]["path"] == "/rule"
    assert outcome["trace"][0]["result"] is outcome["result"]
    assert {entry["path"] for entry in outcome["trace"]} <= set(pointers({"rule": rule}))


@pytest.fixture(scope="module")
def service() -> Iterator[SpecService]:
    with SpecService.open(settings=Settings(max_spec_bytes=1 << 20)) as opened:
        yield opened


@fuzz
@given(data=shaped, type_name=st.sampled_from(sorted(TYPES)))
def test_the_service_validates_any_data_written_as_yaml(
    service: SpecService, data: Any, type_name: str
) -> None:
    """The dry run of the service (intake, then the type) answers ``{valid, errors}``."""
    content = json.dumps(data, ensure_ascii=False)  # JSON is YAML, and keeps every key text
    try:
        answer = service.validate(type_name, content)
    except ALLOWED:
        return
    assert set(answer) == {"valid", "errors"}
    assert answer["valid"] is (not answer["errors"])
    if answer["valid"]:
        assert isinstance(data, dict)
