"""Queries of the Python API: historical reads, lists, versions, diffs, audit log, types."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from specsvc import SpecService
from specsvc.errors import (
    BadRequest,
    SpecDeleted,
    SpecNotFound,
    SpecNotPublished,
    TypeNotFound,
    ValidationError,
    VersionNotFound,
)
from tests.support.stores import RULES, make_spec, open_service

ACTOR = {"actor": "bob", "reason": "because"}


def tick() -> datetime:
    """An instant strictly between two commands."""
    time.sleep(0.002)
    moment = datetime.now(UTC)
    time.sleep(0.002)
    return moment


def test_get_at_version_reconstructs_that_state(service: SpecService) -> None:
    make_spec(service)
    service.update_spec("demo", "a: 2\n", **ACTOR)
    service.publish_spec("demo", **ACTOR)
    service.update_spec("demo", "a: 3\n", **ACTOR)
    first = service.get_spec("demo", version=1)
    assert (first["version"], first["content"], first["state"], first["revision"]) == (
        1,
        "a: 1\n",
        "draft",
        1,
    )
    second = service.get_spec("demo", version=2)
    assert (second["content"], second["updated_by"], second["revision"]) == ("a: 2\n", "bob", 2)
    with pytest.raises(VersionNotFound):
        service.get_spec("demo", version=4)
    with pytest.raises(BadRequest):
        service.get_spec("demo", version=0)


def test_get_as_of_reads_past_states(service: SpecService) -> None:
    before_creation = tick()
    make_spec(service)
    after_create = tick()
    service.update_spec("demo", "a: 2\n", **ACTOR)
    after_update = tick()
    service.publish_spec("demo", **ACTOR)
    with pytest.raises(SpecNotFound):
        service.get_spec("demo", as_of=before_creation)
    assert service.get_spec("demo", as_of=after_create)["content"] == "a: 1\n"
    assert service.get_spec("demo", as_of=after_update)["state"] == "draft"
    future = datetime.now(UTC) + timedelta(days=365)
    assert service.get_spec("demo", as_of=future) == service.get_spec("demo")
    naive_future = datetime.utcnow() + timedelta(days=1)
    assert service.get_spec("demo", as_of=naive_future)["state"] == "published"
    with pytest.raises(BadRequest):
        service.get_spec("demo", version=1, as_of=future)


def test_published_as_of_follows_rollbacks(service: SpecService) -> None:
    make_spec(service)
    service.update_spec("demo", "a: 2\n", **ACTOR)
    not_yet = tick()
    service.publish_spec("demo", **ACTOR)
    serving_two = tick()
    service.publish_spec("demo", version=1, **ACTOR)
    serving_one = tick()
    service.deprecate_spec("demo", **ACTOR)
    with pytest.raises(SpecNotPublished):
        service.get_published("demo", as_of=not_yet)
    assert service.get_published("demo", as_of=serving_two)["content"] == "a: 2\n"
    one = service.get_published("demo", as_of=serving_one)
    assert (one["version"], one["content"], one["state"]) == (1, "a: 1\n", "published")
    assert service.get_published("demo")["state"] == "deprecated"


def test_never_published_spec_is_not_published(service: SpecService) -> None:
    make_spec(service)
    with pytest.raises(SpecNotPublished):
        service.get_published("demo")
    with pytest.raises(SpecNotFound):
        service.get_published("missing")


def test_list_filters_orders_and_pages(service: SpecService) -> None:
    for name in ["b-two", "a-one", "c-three", "a-four"]:
        make_spec(service, name)
    make_spec(service, "rules", RULES, type="regex-rules")
    service.publish_spec("a-one", **ACTOR)
    names = [s["name"] for s in service.list_specs()["specs"]]
    assert names == ["a-four", "a-one", "b-two", "c-three", "rules"]
    assert "content" not in service.list_specs()["specs"][0]
    assert [s["name"] for s in service.list_specs(state="published")["specs"]] == ["a-one"]
    assert [s["name"] for s in service.list_specs(type="regex-rules")["specs"]] == ["rules"]
    assert [s["name"] for s in service.list_specs(name_prefix="a-")["specs"]] == ["a-four", "a-one"]
    seen, token = [], None
    while True:
        page = service.list_specs(limit=2, page_token=token)
        seen += [s["name"] for s in page["specs"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == names


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"limit": 501},
        {"limit": "10"},
        {"state": "archived"},
        {"page_token": "not-a-token"},
        {"page_token": "eyJhZnRlciI6IDF9"},
    ],
)
def test_list_rejects_bad_query_values(service: SpecService, kwargs: dict) -> None:
    with pytest.raises(BadRequest):
        service.list_specs(**kwargs)


def test_page_token_is_bound_to_its_filters(service: SpecService) -> None:
    for name in ["a1", "a2", "a3"]:
        make_spec(service, name)
    token = service.list_specs(limit=1)["next_page_token"]
    with pytest.raises(BadRequest):
        service.list_specs(limit=1, page_token=token, name_prefix="a")


def test_versions_version_and_diff(service: SpecService) -> None:
    make_spec(service, content="a: 1\nb: [1, 2]\n")
    service.update_spec("demo", "a: 1\nb: [1, 3]\nc: new\n", actor="bob", reason="more")
    versions = service.list_versions("demo")["versions"]
    assert [(v["version"], v["created_by"], v["reason"]) for v in versions] == [
        (1, "alice", None),
        (2, "bob", "more"),
    ]
    assert versions[0]["size"] == len(b"a: 1\nb: [1, 2]\n")
    one = service.get_version("demo", 1)
    assert one["content"] == "a: 1\nb: [1, 2]\n"
    diff = service.diff("demo", 1, 2)
    assert diff["from"] == 1 and diff["to"] == 2
    assert "-b: [1, 2]" in diff["diff"] and "+c: new" in diff["diff"]
    assert {(c["op"], c["path"]) for c in diff["changes"]} == {("replace", "/b/1"), ("add", "/c")}
    with pytest.raises(VersionNotFound):
        service.get_version("demo", 3)
    with pytest.raises(VersionNotFound):
        service.diff("demo", 1, 9)


def test_history_and_audit_log(service: SpecService) -> None:
    make_spec(service, correlation_id="req-1")
    make_spec(service, "other")
    service.publish_spec("demo", actor="carol", reason="ship", correlation_id="req-2")
    history = service.history("demo")["events"]
    assert [e["event"] for e in history] == ["SpecCreated", "SpecStateChanged"]
    changed = history[1]
    assert (changed["from_state"], changed["to_state"], changed["published_version"]) == (
        "draft",
        "published",
        1,
    )
    assert (changed["actor"], changed["correlation_id"], changed["reason"]) == (
        "carol",
        "req-2",
        "ship",
    )
    assert history[0]["correlation_id"] == "req-1"
    log = service.list_events()
    positions = [e["position"] for e in log["events"]]
    assert positions == sorted(positions) and len(positions) == 3
    assert log["next_after"] == positions[-1]
    after_first = service.list_events(after=positions[0])
    assert [e["position"] for e in after_first["events"]] == positions[1:]
    assert [e["spec"] for e in service.list_events(actor="carol")["events"]] == ["demo"]
    assert len(service.list_events(spec="other")["events"]) == 1
    empty = service.list_events(after=positions[-1])
    assert empty == {"events": [], "next_after": positions[-1]}
    assert len(service.list_events(limit=1)["events"]) == 1


def test_audit_log_time_range(service: SpecService) -> None:
    make_spec(service, "first")
    middle = tick()
    make_spec(service, "second")
    assert [e["spec"] for e in service.list_events(since=middle)["events"]] == ["second"]
    assert [e["spec"] for e in service.list_events(until=middle)["events"]] == ["first"]


@pytest.mark.parametrize(
    "kwargs", [{"after": -1}, {"after": "x"}, {"limit": 0}, {"limit": 1000}, {"since": "yesterday"}]
)
def test_audit_log_rejects_bad_values(service: SpecService, kwargs: dict) -> None:
    with pytest.raises(BadRequest):
        service.list_events(**kwargs)


def test_validate_is_a_dry_run(service: SpecService) -> None:
    assert service.validate("regex-rules", RULES) == {"valid": True, "errors": []}
    result = service.validate("regex-rules", "rule: {field: x, matches: '(?=a)'}\n")
    assert result["valid"] is False and result["errors"][0]["path"] == "/rule/matches"
    assert service.validate("generic", "- a list\n")["valid"] is False
    with pytest.raises(ValidationError):
        service.validate("no-such-type", "a: 1\n")
    assert service.list_specs()["specs"] == []


def test_evaluate_uses_published_version_by_default(service: SpecService) -> None:
    make_spec(service, "rules", RULES, type="regex-rules")
    service.publish_spec("rules", **ACTOR)
    service.update_spec("rules", "rule: {field: email, matches: '@example\\.org$'}\n", **ACTOR)
    published = service.evaluate("rules", {"email": "a@example.com"})
    assert (published["result"], published["version"]) == (True, 1)
    assert published["trace"][0]["result"] is True
    latest = service.evaluate("rules", {"email": "a@example.com"}, version=2)
    assert (latest["result"], latest["version"]) == (False, 2)


def test_evaluate_draft_uses_latest_and_rejects_other_types(service: SpecService) -> None:
    make_spec(service, "rules", RULES, type="regex-rules")
    assert service.evaluate("rules", {"email": "x@example.com"})["version"] == 1
    make_spec(service, "plain")
    with pytest.raises(ValidationError):
        service.evaluate("plain", {"a": 1})
    with pytest.raises(ValidationError):
        service.evaluate("rules", ["not", "a", "mapping"])  # type: ignore[arg-type]


def test_types_are_listed_with_schemas(service: SpecService) -> None:
    names = [t["name"] for t in service.list_types()["types"]]
    assert {"generic", "regex-rules", "approval-workflow"} <= set(names)
    assert service.get_type("regex-rules")["schema"]["$schema"].endswith("2020-12/schema")
    with pytest.raises(TypeNotFound):
        service.get_type("nope")


@pytest.mark.parametrize("name", ["../etc/passwd", "UPPER", "", "a" * 129, "-x", None])
def test_names_that_cannot_exist_are_not_found(service: SpecService, name: object) -> None:
    with pytest.raises(SpecNotFound):
        service.get_spec(name)  # type: ignore[arg-type]


def test_a_published_answer_is_kept_while_the_read_models_stand_still(
    file_service: SpecService, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_service.create_spec("kept", "generic", "a: 1\n", actor="alice")
    file_service.publish_spec("kept", actor="bob", reason="go")
    first = file_service.get_published("kept")
    reads: list[object] = []
    original = file_service._read_model.select_published
    monkeypatch.setattr(
        file_service._read_model,
        "select_published",
        lambda key: reads.append(key) or original(key),
    )
    again = file_service.get_published("kept")
    assert again == first and reads == []  # answered from memory
    again["content"] = "changed by a caller"  # a caller's copy: what is kept is intact
    assert file_service.get_published("kept")["content"] == "a: 1\n"
    # A write of another spec is projected, but this spec's rows are as they were.
    file_service.create_spec("beside", "generic", "b: 1\n", actor="alice")
    assert file_service.get_published("kept")["content"] == "a: 1\n" and reads == []
    # A projection of this spec retires what was kept: each answer after it is read again.
    file_service.update_spec("kept", "a: 2\n", actor="alice", reason="two")
    assert file_service.get_published("kept")["version"] == 1 and len(reads) == 1
    file_service.publish_spec("kept", actor="bob", reason="ship two")
    assert file_service.get_published("kept")["content"] == "a: 2\n" and len(reads) == 2
    file_service.deprecate_spec("kept", actor="bob", reason="old")
    assert file_service.get_published("kept")["state"] == "deprecated"
    file_service.delete_spec("kept", actor="bob", reason="gone")
    with pytest.raises(SpecDeleted):
        file_service.get_published("kept")


def test_a_spec_s_latest_state_is_kept_while_the_log_stands_still(
    file_service: SpecService, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_service.create_spec("state", "generic", "a: 1\n", actor="alice")
    file_service.create_spec("other", "generic", "o: 1\n", actor="alice")
    first = file_service.get_spec("state")
    replays: list[str] = []
    original = file_service._app.get
    monkeypatch.setattr(
        file_service._app, "get", lambda name, *more: replays.append(name) or original(name, *more)
    )
    assert file_service.get_spec("state") == first and replays == []  # answered from memory
    assert file_service.get_spec("state", version=1)["version"] == 1  # versions are read
    assert replays and set(replays) == {"state"}
    before = len(replays)
    # A write of another spec moves the head of the log, but not this spec's newest
    # event: the answer kept is confirmed by one indexed read, not a replay.
    file_service.update_spec("other", "o: 2\n", actor="alice", reason="two")
    assert file_service.get_spec("state") == first and replays.count("state") == before
    file_service.update_spec("state", "a: 2\n", actor="alice", reason="two")
    assert file_service.get_spec("state")["content"] == "a: 2\n"
    assert replays.count("state") == before + 2  # the update's read, then the get's


def test_reads_from_many_threads_leave_no_connection_open_once_closed(tmp_path: Path) -> None:
    svc = open_service("sqlite-file", tmp_path)
    make_spec(svc, "threads")
    svc.publish_spec("threads", actor="bob", reason="go")

    def read(serial: int) -> int:
        make_spec(svc, f"t{serial}")  # moves the head: the reads below go to the store
        assert svc.get_spec("threads")["name"] == "threads"
        assert svc.get_published("threads")["version"] == 1
        return len(svc.list_specs()["specs"])

    # Each thread reads through a connection of its own.
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sorted(pool.map(read, range(16)))[-1] == 17
    assert open_files_under(tmp_path)
    svc.close()
    assert open_files_under(tmp_path) == []


def open_files_under(folder: Path) -> list[str]:
    """The files under ``folder`` this process holds open (Linux: /proc/self/fd)."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            held.append(target)
    return held
