"""Commands of the Python API: input checks, ids, verbatim content, metadata, four eyes."""

from __future__ import annotations

from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

import pytest

from specsvc import SpecService
from specsvc.errors import (
    InvalidStateTransition,
    PayloadTooLarge,
    PreconditionFailed,
    SeparationOfDuties,
    SpecAlreadyExists,
    SpecNotFound,
    ValidationError,
    VersionMismatch,
)
from tests.support.stores import event_count, make_spec, open_service

ACTOR = {"actor": "bob", "reason": "because"}


def test_create_returns_the_spec_resource(service: SpecService) -> None:
    spec = make_spec(service, reason="first cut")
    assert spec["id"] == str(uuid5(NAMESPACE_URL, "/specs/demo"))
    assert (spec["version"], spec["state"], spec["published_version"]) == (1, "draft", None)
    assert spec["has_unpublished_changes"] is True
    assert spec["created_by"] == spec["updated_by"] == "alice"
    assert spec["revision"] == 1 and spec["position"] >= 1
    assert len(spec["content_sha256"]) == 64
    assert spec["created_at"].tzinfo is not None


def test_content_is_stored_verbatim_even_with_transcoder_lookalike_keys(
    service: SpecService,
) -> None:
    content = "# a comment\n_type_: decimal\n_data_:   '1.0'   # spaced\nkey: {_type_: uuid}\n"
    make_spec(service, content=content)
    assert service.get_spec("demo")["content"] == content
    assert service.get_version("demo", 1)["content"] == content
    service.publish_spec("demo", **ACTOR)
    assert service.get_published("demo")["content"] == content


def test_names_are_unique(service: SpecService) -> None:
    make_spec(service)
    count = event_count(service)
    with pytest.raises(SpecAlreadyExists):
        make_spec(service, content="b: 2\n")
    assert event_count(service) == count


@pytest.mark.parametrize(
    "name", ["", "A", "a_", "-a", "a" * 129, "a b", "a/b", "../x", "é", "a\x00", 5, None]
)
def test_bad_names_are_validation_errors(service: SpecService, name: object) -> None:
    with pytest.raises(ValidationError):
        service.create_spec(name, "generic", "a: 1\n", actor="alice")  # type: ignore[arg-type]
    assert event_count(service) == 0


def test_longest_and_shortest_names_are_accepted(service: SpecService) -> None:
    make_spec(service, "a" * 128)
    make_spec(service, "z")
    make_spec(service, "a.b_c-d9")
    assert len(service.list_specs()["specs"]) == 3


@pytest.mark.parametrize(
    ("spec_type", "content", "error"),
    [
        ("nope", "a: 1\n", ValidationError),
        ("generic", "- 1\n", ValidationError),
        ("generic", "a: [\n", ValidationError),
        ("generic", 42, ValidationError),
        ("regex-rules", "rule: {field: a}\n", ValidationError),
        ("generic", "a: '" + "x" * 2100 + "'\n", PayloadTooLarge),
    ],
)
def test_invalid_content_is_rejected_and_writes_nothing(
    service: SpecService, spec_type: str, content: object, error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        service.create_spec("demo", spec_type, content, actor="alice")  # type: ignore[arg-type]
    assert caught.value.code == error.__name__  # type: ignore[attr-defined]
    assert event_count(service) == 0
    with pytest.raises(SpecNotFound):
        service.get_spec("demo")


def test_validation_error_lists_every_problem_with_paths(service: SpecService) -> None:
    content = (
        "steps:\n  - {id: a, approvers: {roles: []}, min_approvals: 0,"
        " on_approve: x, on_reject: rejected}\n"
    )
    with pytest.raises(ValidationError) as caught:
        service.create_spec("wf", "approval-workflow", content, actor="alice")
    paths = {e["path"] for e in caught.value.errors}
    assert "/steps/0/min_approvals" in paths


def test_update_checks_content_against_the_spec_type(service: SpecService) -> None:
    make_spec(service, "rules", "rule: {field: a, matches: b}\n", type="regex-rules")
    with pytest.raises(ValidationError):
        service.update_spec("rules", "a: 1\n", **ACTOR)
    assert service.get_spec("rules")["version"] == 1


def test_expected_version_guards_updates(service: SpecService) -> None:
    make_spec(service)
    service.update_spec("demo", "a: 2\n", expected_version=1, **ACTOR)
    with pytest.raises(VersionMismatch) as caught:
        service.update_spec("demo", "a: 3\n", expected_version=1, **ACTOR)
    assert caught.value.details == {"expected_version": 1, "version": 2}
    assert service.get_spec("demo")["version"] == 2


def test_commands_on_missing_specs_are_not_found(service: SpecService) -> None:
    with pytest.raises(SpecNotFound):
        service.update_spec("ghost", "a: 1\n", **ACTOR)
    with pytest.raises(SpecNotFound):
        service.publish_spec("ghost", **ACTOR)


def test_actor_and_correlation_id_are_recorded_and_generated(service: SpecService) -> None:
    make_spec(service)
    service.update_spec("demo", "a: 2\n", actor="bob", reason="r", correlation_id="abc-123")
    first, second = service.history("demo")["events"]
    assert (second["actor"], second["correlation_id"]) == ("bob", "abc-123")
    assert len(first["correlation_id"]) == 36
    with pytest.raises(ValidationError):
        service.update_spec("demo", "a: 3\n", actor="bob", reason="r", correlation_id="bad id")
    with pytest.raises(ValidationError):
        service.update_spec("demo", "a: 3\n", actor="", reason="r")


def test_four_eyes_forbids_publishing_your_own_version(tmp_path: Path) -> None:
    with open_service("sqlite-file", tmp_path, four_eyes=True) as svc:
        make_spec(svc)
        svc.update_spec("demo", "a: 2\n", actor="bob", reason="r")
        count = event_count(svc)
        with pytest.raises(SeparationOfDuties):
            svc.publish_spec("demo", actor="bob", reason="mine")
        assert event_count(svc) == count
        with pytest.raises(SeparationOfDuties):
            svc.publish_spec("demo", version=1, actor="alice", reason="mine too")
        assert svc.publish_spec("demo", version=1, actor="bob", reason="alice wrote v1")["state"]
        assert (
            svc.publish_spec("demo", actor="alice", reason="bob wrote v2")["published_version"] == 2
        )


def test_expected_revision_guards_every_write(service: SpecService) -> None:
    make_spec(service)
    service.publish_spec("demo", expected_revision=1, **ACTOR)
    for write in (
        lambda: service.update_spec("demo", "a: 2\n", expected_revision=1, **ACTOR),
        lambda: service.publish_spec("demo", expected_revision=1, **ACTOR),
        lambda: service.deprecate_spec("demo", expected_revision=1, **ACTOR),
        lambda: service.delete_spec("demo", expected_revision=1, **ACTOR),
    ):
        with pytest.raises(PreconditionFailed) as caught:
            write()
        assert caught.value.details == {"expected_revision": 1, "revision": 2}
    assert service.get_spec("demo")["revision"] == 2
    assert service.deprecate_spec("demo", expected_revision=2, **ACTOR)["revision"] == 3


def test_text_that_utf8_cannot_hold_is_rejected_before_the_store(service: SpecService) -> None:
    make_spec(service, "rules", "rule: {field: a, matches: b}\n", type="regex-rules")
    count = event_count(service)
    with pytest.raises(ValidationError):
        service.publish_spec("rules", actor="bob", reason="bad \ud800 text")
    with pytest.raises(ValidationError):
        service.publish_spec("rules", actor="bob\udfff", reason="fine")
    with pytest.raises(ValidationError):
        service.evaluate("rules", {"a": "\ud800"})
    assert event_count(service) == count


def test_update_reports_the_most_basic_problem_first(service: SpecService) -> None:
    with pytest.raises(SpecNotFound):
        service.update_spec("ghost", "a: [", **ACTOR)
    make_spec(service)
    service.delete_spec("demo", **ACTOR)
    with pytest.raises(InvalidStateTransition):
        service.update_spec("demo", "a: [", **ACTOR)
