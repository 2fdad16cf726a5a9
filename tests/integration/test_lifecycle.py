"""Every cell of the lifecycle table (docs/behaviour.md), on every persistence setting."""

from __future__ import annotations

from typing import Any

import pytest

from specsvc import SpecService
from specsvc.errors import InvalidStateTransition, SpecDeleted, ValidationError, VersionNotFound
from tests.support.stores import event_count, make_spec

ACTOR = {"actor": "bob", "reason": "because"}


def in_state(svc: SpecService, state: str) -> None:
    make_spec(svc)
    if state in ("published", "deprecated"):
        svc.publish_spec("demo", **ACTOR)
    if state == "deprecated":
        svc.deprecate_spec("demo", **ACTOR)
    if state == "deleted":
        svc.delete_spec("demo", **ACTOR)
    assert svc.get_spec("demo")["state"] == state


def run(svc: SpecService, command: str, content: str = "a: 2\n") -> dict[str, Any]:
    if command == "update":
        return svc.update_spec("demo", content, **ACTOR)
    if command == "publish":
        return svc.publish_spec("demo", **ACTOR)
    if command == "deprecate":
        return svc.deprecate_spec("demo", **ACTOR)
    return svc.delete_spec("demo", **ACTOR)


ALLOWED = [
    ("draft", "update", "draft"),
    ("draft", "publish", "published"),
    ("draft", "delete", "deleted"),
    ("published", "update", "published"),
    ("published", "publish", "published"),
    ("published", "deprecate", "deprecated"),
    ("deprecated", "publish", "published"),
    ("deprecated", "delete", "deleted"),
]
FORBIDDEN = [
    ("draft", "deprecate"),
    ("published", "delete"),
    ("deprecated", "update"),
    ("deleted", "update"),
    ("deleted", "publish"),
    ("deleted", "deprecate"),
]


@pytest.mark.parametrize(("state", "command", "after"), ALLOWED)
def test_allowed_transitions(service: SpecService, state: str, command: str, after: str) -> None:
    in_state(service, state)
    if state == "published" and command == "publish":
        service.update_spec("demo", "a: 3\n", **ACTOR)
    before = event_count(service)
    result = run(service, command)
    assert result["state"] == after
    assert service.get_spec("demo")["state"] == after
    assert event_count(service) == before + 1
    assert result["position"] == service.list_events(limit=500)["events"][-1]["position"]


@pytest.mark.parametrize(("state", "command"), FORBIDDEN)
def test_forbidden_transitions_write_nothing(
    service: SpecService, state: str, command: str
) -> None:
    in_state(service, state)
    before = service.get_spec("demo")
    count = event_count(service)
    with pytest.raises(InvalidStateTransition) as caught:
        run(service, command)
    assert caught.value.code == "InvalidStateTransition"
    assert service.get_spec("demo") == before
    assert event_count(service) == count


@pytest.mark.parametrize(
    ("state", "command"),
    [
        ("deprecated", "deprecate"),
        ("deleted", "delete"),
        ("published", "publish"),
        ("draft", "update"),
    ],
)
def test_no_op_commands_record_nothing_and_return_the_spec(
    service: SpecService, state: str, command: str
) -> None:
    in_state(service, state)
    before = service.get_spec("demo")
    count = event_count(service)
    last_position = service.list_events(limit=500)["events"][-1]["position"]
    result = run(service, command, content="a: 1\n")
    assert event_count(service) == count
    assert {k: v for k, v in result.items() if k != "position"} == before
    assert result["position"] == last_position


def test_update_creates_gapless_versions_and_keeps_published_version(service: SpecService) -> None:
    make_spec(service)
    service.publish_spec("demo", **ACTOR)
    for n in range(2, 6):
        spec = service.update_spec("demo", f"a: {n}\n", **ACTOR)
        assert spec["version"] == n
    assert spec["published_version"] == 1
    assert spec["has_unpublished_changes"] is True
    assert service.get_published("demo")["content"] == "a: 1\n"
    assert [v["version"] for v in service.list_versions("demo")["versions"]] == [1, 2, 3, 4, 5]


def test_rollback_and_roll_forward(service: SpecService) -> None:
    make_spec(service)
    service.update_spec("demo", "a: 2\n", **ACTOR)
    service.publish_spec("demo", **ACTOR)
    rolled = service.publish_spec("demo", version=1, **ACTOR)
    assert (rolled["state"], rolled["published_version"]) == ("published", 1)
    assert rolled["has_unpublished_changes"] is True
    assert service.get_published("demo")["content"] == "a: 1\n"
    forward = service.publish_spec("demo", version=2, **ACTOR)
    assert forward["published_version"] == 2
    assert forward["has_unpublished_changes"] is False
    assert service.get_published("demo")["version"] == 2


def test_deprecate_keeps_published_version_and_reinstate_publishes(service: SpecService) -> None:
    make_spec(service)
    service.publish_spec("demo", **ACTOR)
    deprecated = service.deprecate_spec("demo", **ACTOR)
    assert (deprecated["state"], deprecated["published_version"]) == ("deprecated", 1)
    served = service.get_published("demo")
    assert (served["state"], served["version"]) == ("deprecated", 1)
    reinstated = service.publish_spec("demo", **ACTOR)
    assert reinstated["state"] == "published"


def test_publishing_a_missing_version_is_version_not_found(service: SpecService) -> None:
    make_spec(service)
    count = event_count(service)
    with pytest.raises(VersionNotFound):
        service.publish_spec("demo", version=2, **ACTOR)
    assert event_count(service) == count


def test_deleted_spec_stays_readable_and_keeps_its_name(service: SpecService) -> None:
    make_spec(service)
    service.delete_spec("demo", **ACTOR)
    assert service.get_spec("demo")["state"] == "deleted"
    assert len(service.list_versions("demo")["versions"]) == 1
    assert len(service.history("demo")["events"]) == 2
    with pytest.raises(SpecDeleted):
        service.get_published("demo")
    assert service.list_specs()["specs"] == []
    assert [s["name"] for s in service.list_specs(state="deleted")["specs"]] == ["demo"]
    with pytest.raises(Exception) as caught:
        make_spec(service)
    assert caught.value.code == "SpecAlreadyExists"  # type: ignore[attr-defined]


def test_published_spec_that_is_deleted_after_deprecation_answers_spec_deleted(
    service: SpecService,
) -> None:
    make_spec(service)
    service.publish_spec("demo", **ACTOR)
    service.deprecate_spec("demo", **ACTOR)
    service.delete_spec("demo", **ACTOR)
    with pytest.raises(SpecDeleted):
        service.get_published("demo")


@pytest.mark.parametrize("command", ["update", "publish", "deprecate", "delete"])
@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 1001])
def test_reason_is_required_and_bounded(service: SpecService, command: str, reason: Any) -> None:
    make_spec(service)
    count = event_count(service)
    calls = {
        "update": lambda: service.update_spec("demo", "a: 2\n", actor="bob", reason=reason),
        "publish": lambda: service.publish_spec("demo", actor="bob", reason=reason),
        "deprecate": lambda: service.deprecate_spec("demo", actor="bob", reason=reason),
        "delete": lambda: service.delete_spec("demo", actor="bob", reason=reason),
    }
    with pytest.raises(ValidationError):
        calls[command]()
    assert event_count(service) == count


def test_reason_is_trimmed_and_optional_on_create(service: SpecService) -> None:
    make_spec(service)
    service.update_spec("demo", "a: 2\n", actor="bob", reason="  tidy  ")
    reasons = [e["reason"] for e in service.history("demo")["events"]]
    assert reasons == [None, "tidy"]
