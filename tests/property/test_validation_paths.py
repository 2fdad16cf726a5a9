"""The compiled validator and ``jsonschema`` agree on every verdict for the built-in
types (docs/architecture.md, Validation): valid content is accepted by the compiled
one alone, so it must never accept what ``jsonschema`` refuses, and it should refuse
exactly what ``jsonschema`` refuses, or the slow path runs for valid content too.

Run longer, with new examples on every run:

    SPECSVC_FUZZ_EXAMPLES=20000 pytest tests/property/test_validation_paths.py -n 0
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from specsvc.content.intake import parse_content
from specsvc.spectypes.base import _schema_problems
from tests.property.test_fuzz_intake import TYPES, intake, shaped, yamlish
from tests.support import ROOT
from tests.support.budgets import budget

EXAMPLES = sorted(p for p in (ROOT / "examples" / "specs").glob("*.yaml") if p.stem in TYPES)


def verdicts(data: Any) -> dict[str, tuple[bool, bool]]:
    """Per type: (the compiled validator accepts, jsonschema accepts)."""
    return {
        name: (spec_type.accepts_fast(data), not _schema_problems(spec_type._validator, data))
        for name, spec_type in TYPES.items()
    }


def assert_agree(data: Any) -> None:
    for name, (fast, slow) in verdicts(data).items():
        assert fast == slow, f"{name}: compiled {fast}, jsonschema {slow} for {data!r}"


def test_every_built_in_type_is_compiled() -> None:
    assert all(spec_type._fast is not None for spec_type in TYPES.values())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: Path(p).stem)
def test_the_examples_are_accepted_by_both(path: Path) -> None:
    data = parse_content(path.read_text("utf-8"), max_bytes=1 << 20).data
    fast, slow = verdicts(data)[path.stem]
    assert fast and slow


@pytest.mark.parametrize(
    "data",
    [
        {"rule": {"field": "a", "matches": "x"}, "description": 1.0},
        {"rule": {"field": "a", "matches": "x"}, "n": 10**400},
        {"steps": [{"id": "s1\n", "approvers": {"users": ["u"]}, "on_approve": "approved",
                    "on_reject": "rejected"}]},
        {"steps": [{"id": "s1", "approvers": {"users": ["u"]}, "min_approvals": 1.0,
                    "on_approve": "approved", "on_reject": "rejected"}]},
        {"steps": [{"id": "s1", "approvers": {"users": ["u"]}, "min_approvals": True,
                    "on_approve": "approved", "on_reject": "rejected"}]},
        {"rule": {"all": []}},
        {"rule": {"not": {"field": "a", "matches": "x"}, "all": []}},
        {"rule": {"field": "é" * 300, "matches": "x"}},
    ],
)  # fmt: skip
def test_edge_cases_get_the_same_verdict(data: dict[str, Any]) -> None:
    assert_agree(data)


@budget("SPECSVC_FUZZ_EXAMPLES", 400)
@given(shaped)
def test_data_of_every_shape_gets_the_same_verdict(data: Any) -> None:
    assert_agree(data)


@budget("SPECSVC_FUZZ_EXAMPLES", 200)
@given(yamlish())
def test_parsed_documents_get_the_same_verdict(text: str) -> None:
    data = intake(text, 1 << 20)
    if data is not None:
        assert_agree(data)
