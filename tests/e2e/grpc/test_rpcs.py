"""Every RPC of specsvc.v1.SpecService over a real channel: happy paths and error codes."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from tests.support.grpc import GrpcApi, assert_rpc_error, unique

Code = grpc.StatusCode
RULES = "# who may sign up\nrule: {field: email, matches: '@example\\.com$'}\n"
NUMBER_RULES = "rule: {all: [{field: n, matches: '^3$'}, {field: ok, matches: '^true$'}]}\n"


def stamp(moment: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(moment)
    return result


def moment(value: Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=UTC)


def between(earlier: Timestamp, later: Timestamp) -> Timestamp:
    first, last = moment(earlier), moment(later)
    assert last - first >= timedelta(microseconds=2), (first, last)
    return stamp(first + (last - first) / 2)


def struct(**values: object) -> Struct:
    result = Struct()
    result.update(values)
    return result


# --- CreateSpec ---------------------------------------------------------------------------


def test_create_returns_a_draft_at_version_1_with_every_field(grpc_api: GrpcApi) -> None:
    name = unique("create")
    spec = grpc_api.create(name, RULES, "regex-rules", reason="first cut")
    assert uuid.UUID(spec.id) == uuid.UUID(grpc_api.service.get_spec(name)["id"])
    assert (spec.name, spec.type, spec.state, spec.version) == (name, "regex-rules", "draft", 1)
    assert spec.content == RULES  # verbatim, comment kept
    assert spec.content_sha256 == hashlib.sha256(RULES.encode()).hexdigest()
    assert spec.has_unpublished_changes is True
    assert not spec.HasField("published_version")
    assert spec.created_by == spec.updated_by == "ada"
    assert spec.revision == 1
    assert spec.HasField("position") and spec.position >= 1
    assert moment(spec.created_at) == moment(spec.updated_at)
    assert abs(moment(spec.created_at) - datetime.now(UTC)) < timedelta(minutes=1)


def test_the_spec_id_is_the_same_for_the_same_name_everywhere(grpc_api: GrpcApi) -> None:
    name = unique("same-id")
    created = grpc_api.create(name)
    fetched = grpc_api.call("GetSpec", pb.GetSpecRequest(name=name))
    assert created.id == fetched.id
    assert not fetched.HasField("position")  # only command responses carry it


def test_create_stores_the_optional_reason_and_leaves_it_unset_without_one(
    grpc_api: GrpcApi,
) -> None:
    with_reason, without = unique("why"), unique("why-not")
    grpc_api.create(with_reason, reason="  needed for launch  ")
    grpc_api.create(without)
    assert grpc_api.history(with_reason)[0].reason == "needed for launch"
    assert not grpc_api.history(without)[0].HasField("reason")


def test_creating_an_existing_name_is_already_exists(grpc_api: GrpcApi) -> None:
    name = unique("twice")
    grpc_api.create(name)
    before = grpc_api.events()
    error = grpc_api.fails(
        "CreateSpec", pb.CreateSpecRequest(name=name, type="generic", content="b: 2")
    )
    info = assert_rpc_error(error, Code.ALREADY_EXISTS, "SpecAlreadyExists")
    assert info.metadata["name"] == name
    assert grpc_api.events() == before


def test_a_deleted_spec_keeps_its_name_reserved(grpc_api: GrpcApi) -> None:
    name = unique("reserved")
    grpc_api.create(name)
    grpc_api.delete(name)
    error = grpc_api.fails(
        "CreateSpec", pb.CreateSpecRequest(name=name, type="generic", content="a: 1")
    )
    assert_rpc_error(error, Code.ALREADY_EXISTS, "SpecAlreadyExists")


def test_content_that_breaks_its_type_is_invalid_argument_listing_the_problems(
    grpc_api: GrpcApi,
) -> None:
    name = unique("invalid")
    request = pb.CreateSpecRequest(name=name, type="regex-rules", content="description: no rule\n")
    info = assert_rpc_error(
        grpc_api.fails("CreateSpec", request), Code.INVALID_ARGUMENT, "ValidationError"
    )
    problems = json.loads(info.metadata["errors"])
    assert problems and all(set(p) == {"path", "message"} for p in problems)
    assert_rpc_error(
        grpc_api.fails("GetSpec", pb.GetSpecRequest(name=name)), Code.NOT_FOUND, "SpecNotFound"
    )


def test_a_bad_name_is_invalid_argument_validation_error(grpc_api: GrpcApi) -> None:
    request = pb.CreateSpecRequest(name="Not_A_Name", type="generic", content="a: 1")
    error = grpc_api.fails("CreateSpec", request)
    assert_rpc_error(error, Code.INVALID_ARGUMENT, "ValidationError")


def test_content_over_the_spec_limit_is_resource_exhausted(grpc_api: GrpcApi) -> None:
    limit = grpc_api.service.settings.max_spec_bytes
    name = unique("big")
    before = grpc_api.events()
    request = pb.CreateSpecRequest(name=name, type="generic", content="a: " + "x" * limit)
    error = grpc_api.fails("CreateSpec", request)
    assert_rpc_error(error, Code.RESOURCE_EXHAUSTED, "PayloadTooLarge")
    assert grpc_api.events() == before


def test_content_of_exactly_the_spec_limit_is_accepted(grpc_api: GrpcApi) -> None:
    limit = grpc_api.service.settings.max_spec_bytes
    content = "a: " + "x" * (limit - 4) + "\n"
    assert len(content.encode()) == limit
    assert grpc_api.create(unique("at-limit"), content).content == content


# --- UpdateSpec ---------------------------------------------------------------------------


def test_update_writes_the_next_version_and_stays_draft(grpc_api: GrpcApi) -> None:
    name = unique("update")
    grpc_api.create(name)
    spec = grpc_api.update(name, "a: 2\n", reason="bump")
    assert (spec.version, spec.state, spec.revision, spec.content) == (2, "draft", 2, "a: 2\n")
    assert spec.has_unpublished_changes and not spec.HasField("published_version")
    versions = grpc_api.call("ListVersions", pb.ListVersionsRequest(name=name)).versions
    assert [(v.version, v.reason) for v in versions][1] == (2, "bump")


def test_update_with_the_expected_version_succeeds(grpc_api: GrpcApi) -> None:
    name = unique("expected")
    grpc_api.create(name)
    assert grpc_api.update(name, "a: 2\n", expected_version=1).version == 2


def test_update_with_a_stale_expected_version_is_aborted(grpc_api: GrpcApi) -> None:
    name = unique("stale")
    grpc_api.create(name)
    grpc_api.update(name, "a: 2\n")
    before = grpc_api.events()
    request = pb.UpdateSpecRequest(name=name, content="a: 3\n", reason="r", expected_version=1)
    assert_rpc_error(grpc_api.fails("UpdateSpec", request), Code.ABORTED, "VersionMismatch")
    assert grpc_api.events() == before


def test_writes_with_a_stale_expected_revision_fail_the_precondition(grpc_api: GrpcApi) -> None:
    name = unique("revision")
    grpc_api.create(name)
    grpc_api.update(name, "a: 2\n")  # revision 2
    before = grpc_api.events()
    stale = [
        (
            "UpdateSpec",
            pb.UpdateSpecRequest(name=name, content="a: 3", reason="r", expected_revision=1),
        ),
        ("PublishSpec", pb.PublishSpecRequest(name=name, reason="r", expected_revision=1)),
        ("DeleteSpec", pb.DeleteSpecRequest(name=name, reason="r", expected_revision=3)),
    ]
    for rpc, request in stale:
        error = grpc_api.fails(rpc, request)
        assert_rpc_error(error, Code.FAILED_PRECONDITION, "PreconditionFailed")
    assert grpc_api.events() == before
    published = grpc_api.call(
        "PublishSpec", pb.PublishSpecRequest(name=name, reason="r", expected_revision=2)
    )
    assert published.state == "published" and published.revision == 3
    request = pb.DeprecateSpecRequest(name=name, reason="r", expected_revision=2)
    error = grpc_api.fails("DeprecateSpec", request)
    assert_rpc_error(error, Code.FAILED_PRECONDITION, "PreconditionFailed")


def test_updating_an_unknown_spec_is_not_found(grpc_api: GrpcApi) -> None:
    request = pb.UpdateSpecRequest(name=unique("ghost"), content="a: 1", reason="r")
    assert_rpc_error(grpc_api.fails("UpdateSpec", request), Code.NOT_FOUND, "SpecNotFound")


@pytest.mark.parametrize("state", ["deprecated", "deleted"])
def test_updating_a_deprecated_or_deleted_spec_is_an_invalid_transition(
    grpc_api: GrpcApi, state: str
) -> None:
    name = unique(f"frozen-{state}")
    grpc_api.create(name)
    if state == "deprecated":
        grpc_api.publish(name)
        grpc_api.deprecate(name)
    else:
        grpc_api.delete(name)
    before = grpc_api.events()
    request = pb.UpdateSpecRequest(name=name, content="a: 2", reason="r")
    error = grpc_api.fails("UpdateSpec", request)
    assert_rpc_error(error, Code.FAILED_PRECONDITION, "InvalidStateTransition")
    assert grpc_api.events() == before


# --- PublishSpec, DeprecateSpec, DeleteSpec -----------------------------------------------


def test_publish_serves_the_latest_version(grpc_api: GrpcApi) -> None:
    name = unique("publish")
    grpc_api.create(name)
    grpc_api.update(name, "a: 2\n")
    spec = grpc_api.publish(name, reason="launch")
    assert spec.state == "published"
    assert spec.HasField("published_version") and spec.published_version == 2
    assert spec.has_unpublished_changes is False
    served = grpc_api.call("GetPublishedSpec", pb.GetPublishedSpecRequest(name=name))
    assert (served.name, served.type, served.version, served.state) == (
        name,
        "generic",
        2,
        "published",
    )
    assert served.content == "a: 2\n"
    assert moment(served.published_at) == moment(spec.updated_at)


def test_publishing_a_version_that_does_not_exist_is_not_found(grpc_api: GrpcApi) -> None:
    name = unique("no-version")
    grpc_api.create(name)
    request = pb.PublishSpecRequest(name=name, reason="r", version=2)
    info = assert_rpc_error(
        grpc_api.fails("PublishSpec", request), Code.NOT_FOUND, "VersionNotFound"
    )
    assert info.metadata["version"] == "2"


def test_deprecate_keeps_serving_the_published_version(grpc_api: GrpcApi) -> None:
    name = unique("deprecate")
    grpc_api.create(name)
    grpc_api.publish(name)
    spec = grpc_api.deprecate(name)
    assert (spec.state, spec.published_version) == ("deprecated", 1)
    served = grpc_api.call("GetPublishedSpec", pb.GetPublishedSpecRequest(name=name))
    assert (served.state, served.version) == ("deprecated", 1)
    before = grpc_api.events()
    assert grpc_api.deprecate(name).revision == spec.revision  # no-op
    assert grpc_api.events() == before


def test_deprecating_a_draft_is_an_invalid_transition(grpc_api: GrpcApi) -> None:
    name = unique("draft-deprecate")
    grpc_api.create(name)
    error = grpc_api.fails("DeprecateSpec", pb.DeprecateSpecRequest(name=name, reason="r"))
    assert_rpc_error(error, Code.FAILED_PRECONDITION, "InvalidStateTransition")


def test_deleting_a_published_spec_is_an_invalid_transition(grpc_api: GrpcApi) -> None:
    name = unique("published-delete")
    grpc_api.create(name)
    grpc_api.publish(name)
    before = grpc_api.events()
    error = grpc_api.fails("DeleteSpec", pb.DeleteSpecRequest(name=name, reason="r"))
    assert_rpc_error(error, Code.FAILED_PRECONDITION, "InvalidStateTransition")
    assert grpc_api.events() == before


def test_a_deleted_spec_stays_readable_but_is_not_served(grpc_api: GrpcApi) -> None:
    name = unique("delete")
    grpc_api.create(name)
    grpc_api.publish(name)
    grpc_api.deprecate(name)
    deleted = grpc_api.delete(name)
    assert deleted.state == "deleted" and deleted.published_version == 1
    assert grpc_api.call("GetSpec", pb.GetSpecRequest(name=name)).state == "deleted"
    assert len(grpc_api.history(name)) == 4
    error = grpc_api.fails("GetPublishedSpec", pb.GetPublishedSpecRequest(name=name))
    assert_rpc_error(error, Code.NOT_FOUND, "SpecDeleted")
    before = grpc_api.events()
    assert grpc_api.delete(name).revision == deleted.revision  # a retry is a no-op
    assert grpc_api.events() == before
    for rpc, request in [
        ("PublishSpec", pb.PublishSpecRequest(name=name, reason="r")),
        ("DeprecateSpec", pb.DeprecateSpecRequest(name=name, reason="r")),
    ]:
        error = grpc_api.fails(rpc, request)
        assert_rpc_error(error, Code.FAILED_PRECONDITION, "InvalidStateTransition")


@pytest.mark.parametrize(
    "rpc",
    ["PublishSpec", "DeprecateSpec", "DeleteSpec"],
)
def test_commands_on_an_unknown_spec_are_not_found(grpc_api: GrpcApi, rpc: str) -> None:
    request = getattr(pb, f"{rpc}Request")(name=unique("nobody"), reason="r")
    assert_rpc_error(grpc_api.fails(rpc, request), Code.NOT_FOUND, "SpecNotFound")


# --- GetSpec and GetPublishedSpec ----------------------------------------------------------


def test_get_spec_now_at_a_version_and_as_of_an_instant(grpc_api: GrpcApi) -> None:
    name = unique("get")
    first = grpc_api.create(name)
    second = grpc_api.update(name, "a: 2\n")
    now = grpc_api.call("GetSpec", pb.GetSpecRequest(name=name))
    assert (now.version, now.content) == (2, "a: 2\n")
    old = grpc_api.call("GetSpec", pb.GetSpecRequest(name=name, version=1))
    assert (old.version, old.content, old.revision) == (1, "a: 1\n", 1)
    as_of = between(first.updated_at, second.updated_at)
    then = grpc_api.call("GetSpec", pb.GetSpecRequest(name=name, as_of=as_of))
    assert (then.version, then.content) == (1, "a: 1\n")


def test_get_spec_as_of_before_creation_is_not_found_and_future_is_now(
    grpc_api: GrpcApi,
) -> None:
    name = unique("as-of")
    created = grpc_api.create(name)
    before = stamp(moment(created.created_at) - timedelta(seconds=1))
    error = grpc_api.fails("GetSpec", pb.GetSpecRequest(name=name, as_of=before))
    assert_rpc_error(error, Code.NOT_FOUND, "SpecNotFound")
    future = stamp(datetime.now(UTC) + timedelta(days=365))
    assert grpc_api.call("GetSpec", pb.GetSpecRequest(name=name, as_of=future)).version == 1


def test_get_spec_of_a_missing_version_or_spec_is_not_found(grpc_api: GrpcApi) -> None:
    name = unique("get-missing")
    grpc_api.create(name)
    error = grpc_api.fails("GetSpec", pb.GetSpecRequest(name=name, version=2))
    assert_rpc_error(error, Code.NOT_FOUND, "VersionNotFound")
    error = grpc_api.fails("GetSpec", pb.GetSpecRequest(name=unique("absent")))
    assert_rpc_error(error, Code.NOT_FOUND, "SpecNotFound")


def test_get_published_now_and_as_of(grpc_api: GrpcApi) -> None:
    name = unique("served")
    created = grpc_api.create(name)
    first = grpc_api.publish(name)
    grpc_api.update(name, "a: 2\n")
    second = grpc_api.publish(name)
    now = grpc_api.call("GetPublishedSpec", pb.GetPublishedSpecRequest(name=name))
    assert (now.version, now.content) == (2, "a: 2\n")
    as_of = between(first.updated_at, second.updated_at)
    then = grpc_api.call("GetPublishedSpec", pb.GetPublishedSpecRequest(name=name, as_of=as_of))
    assert (then.version, then.content, then.state) == (1, "a: 1\n", "published")
    unpublished = between(created.updated_at, first.updated_at)
    request = pb.GetPublishedSpecRequest(name=name, as_of=unpublished)
    error = grpc_api.fails("GetPublishedSpec", request)
    assert_rpc_error(error, Code.NOT_FOUND, "SpecNotPublished")


def test_a_published_spec_read_again_follows_every_change(grpc_api: GrpcApi) -> None:
    name = unique("read-again")
    grpc_api.create(name)
    grpc_api.publish(name)

    def served() -> tuple[int, str, str]:
        answer = grpc_api.call("GetPublishedSpec", pb.GetPublishedSpecRequest(name=name))
        return answer.version, answer.content, answer.state

    assert served() == served() == (1, "a: 1\n", "published")
    grpc_api.update(name, "a: 2\n")
    assert served() == (1, "a: 1\n", "published")  # a draft is not served
    republished = grpc_api.publish(name)
    assert served() == served() == (2, "a: 2\n", "published")
    answer = grpc_api.call("GetPublishedSpec", pb.GetPublishedSpecRequest(name=name))
    assert moment(answer.published_at) == moment(republished.updated_at)
    grpc_api.deprecate(name)
    assert served() == served() == (2, "a: 2\n", "deprecated")
    grpc_api.delete(name)
    for _ in range(2):
        error = grpc_api.fails("GetPublishedSpec", pb.GetPublishedSpecRequest(name=name))
        assert_rpc_error(error, Code.NOT_FOUND, "SpecDeleted")


def test_a_never_published_spec_is_not_published(grpc_api: GrpcApi) -> None:
    name = unique("unpublished")
    grpc_api.create(name)
    error = grpc_api.fails("GetPublishedSpec", pb.GetPublishedSpecRequest(name=name))
    assert_rpc_error(error, Code.NOT_FOUND, "SpecNotPublished")


# --- ListSpecs ----------------------------------------------------------------------------


def test_list_specs_filters_by_state_type_and_prefix(grpc_api: GrpcApi) -> None:
    prefix = unique("filter")
    draft, published, rules, gone = (f"{prefix}-{n}" for n in ("a", "b", "c", "d"))
    grpc_api.create(draft)
    grpc_api.create(published)
    grpc_api.publish(published)
    grpc_api.create(rules, RULES, "regex-rules")
    grpc_api.create(gone)
    grpc_api.delete(gone)

    def names(**filters: object) -> list[str]:
        page = grpc_api.call("ListSpecs", pb.ListSpecsRequest(name_prefix=prefix, **filters))
        return [s.name for s in page.specs]

    assert names() == [draft, published, rules]  # deleted ones only on request
    assert names(state="published") == [published]
    assert names(state="draft") == [draft, rules]
    assert names(state="deleted") == [gone]
    assert names(type="regex-rules") == [rules]
    assert names(type="generic", state="draft") == [draft]


def test_list_specs_returns_summaries_without_content(grpc_api: GrpcApi) -> None:
    name = unique("summary")
    spec = grpc_api.create(name)
    page = grpc_api.call("ListSpecs", pb.ListSpecsRequest(name_prefix=name))
    [summary] = page.specs
    assert "content" not in summary.DESCRIPTOR.fields_by_name
    assert (summary.id, summary.version, summary.revision) == (spec.id, 1, 1)
    assert summary.content_sha256 == spec.content_sha256
    assert summary.has_unpublished_changes and not summary.HasField("published_version")
    assert page.next_page_token == ""


def test_list_specs_pages_in_name_order_until_an_empty_token(grpc_api: GrpcApi) -> None:
    prefix = unique("page")
    expected = [f"{prefix}-{letter}" for letter in "abcde"]
    for name in reversed(expected):
        grpc_api.create(name)
    seen, tokens, token = [], [], ""
    while True:
        request = pb.ListSpecsRequest(name_prefix=prefix, limit=2, page_token=token)
        page = grpc_api.call("ListSpecs", request)
        seen += [s.name for s in page.specs]
        tokens.append(page.next_page_token)
        token = page.next_page_token
        if not token:
            break
    assert seen == expected
    assert len(tokens) == 3 and all(tokens[:2]) and tokens[2] == ""


def test_a_page_token_is_bound_to_its_filters(grpc_api: GrpcApi) -> None:
    prefix = unique("bound")
    for letter in "ab":
        grpc_api.create(f"{prefix}-{letter}")
    page = grpc_api.call("ListSpecs", pb.ListSpecsRequest(name_prefix=prefix, limit=1))
    request = pb.ListSpecsRequest(state="published", page_token=page.next_page_token)
    assert_rpc_error(grpc_api.fails("ListSpecs", request), Code.INVALID_ARGUMENT, "BadRequest")


# --- versions, history, diff --------------------------------------------------------------


def test_list_versions_and_get_version(grpc_api: GrpcApi) -> None:
    name = unique("versions")
    grpc_api.create(name)
    grpc_api.as_("alice").update(name, "a: 2\n", reason="second")
    versions = grpc_api.call("ListVersions", pb.ListVersionsRequest(name=name)).versions
    assert [v.version for v in versions] == [1, 2]
    assert not versions[0].HasField("reason") and versions[1].reason == "second"
    assert [v.created_by for v in versions] == ["ada", "alice"]
    assert versions[1].content_sha256 == hashlib.sha256(b"a: 2\n").hexdigest()
    assert versions[1].size == 5
    one = grpc_api.call("GetVersion", pb.GetVersionRequest(name=name, version=1))
    assert (one.name, one.version, one.content, one.created_by) == (name, 1, "a: 1\n", "ada")
    error = grpc_api.fails("GetVersion", pb.GetVersionRequest(name=name, version=3))
    assert_rpc_error(error, Code.NOT_FOUND, "VersionNotFound")
    error = grpc_api.fails("ListVersions", pb.ListVersionsRequest(name=unique("none")))
    assert_rpc_error(error, Code.NOT_FOUND, "SpecNotFound")


def test_history_lists_every_event_oldest_first(grpc_api: GrpcApi) -> None:
    name = unique("history")
    grpc_api.create(name)
    grpc_api.update(name, "a: 2\n", reason="edit")
    grpc_api.publish(name, reason="ship")
    events = grpc_api.history(name)
    assert [e.event for e in events] == ["SpecCreated", "SpecUpdated", "SpecStateChanged"]
    assert [e.sequence for e in events] == [1, 2, 3]
    assert all(e.spec == name and e.actor == "ada" for e in events)
    positions = [e.position for e in events]
    assert positions == sorted(set(positions))
    assert [e.version for e in events[:2]] == [1, 2]
    change = events[2]
    assert (change.from_state, change.to_state, change.published_version) == (
        "draft",
        "published",
        2,
    )
    assert (events[1].reason, change.reason) == ("edit", "ship")
    assert not events[0].HasField("from_state")
    error = grpc_api.fails("GetHistory", pb.GetHistoryRequest(name=unique("nohistory")))
    assert_rpc_error(error, Code.NOT_FOUND, "SpecNotFound")


def test_diff_versions_gives_the_unified_diff_and_changed_paths(grpc_api: GrpcApi) -> None:
    name = unique("diff")
    grpc_api.create(name, "a: 1\nb: 1\n")
    grpc_api.update(name, "a: 2\nb: 1\nc: 3\n")
    request = pb.DiffVersionsRequest(name=name, from_version=1, to_version=2)
    diff = grpc_api.call("DiffVersions", request)
    assert (getattr(diff, "from"), diff.to) == (1, 2)
    assert "-a: 1\n" in diff.diff and "+a: 2\n" in diff.diff and "+c: 3\n" in diff.diff
    assert [(c.op, c.path) for c in diff.changes] == [("replace", "/a"), ("add", "/c")]
    same = grpc_api.call(
        "DiffVersions", pb.DiffVersionsRequest(name=name, from_version=2, to_version=2)
    )
    assert same.diff == "" and not same.changes
    request = pb.DiffVersionsRequest(name=name, from_version=1, to_version=9)
    assert_rpc_error(grpc_api.fails("DiffVersions", request), Code.NOT_FOUND, "VersionNotFound")


# --- ValidateSpec, EvaluateSpec, ListTypes ------------------------------------------------


def test_validate_reports_without_writing(grpc_api: GrpcApi) -> None:
    before = grpc_api.events()
    good = grpc_api.call("ValidateSpec", pb.ValidateSpecRequest(type="regex-rules", content=RULES))
    assert good.valid is True and not good.errors
    request = pb.ValidateSpecRequest(
        type="regex-rules", content="rule: {field: x, matches: '(a)\\1'}\n"
    )
    bad = grpc_api.call("ValidateSpec", request)
    assert bad.valid is False and bad.errors
    assert all(p.message for p in bad.errors)
    broken = grpc_api.call(
        "ValidateSpec", pb.ValidateSpecRequest(type="generic", content="a: [1\n")
    )
    assert broken.valid is False and broken.errors
    assert grpc_api.events() == before


def test_validating_against_an_unknown_type_is_invalid_argument(grpc_api: GrpcApi) -> None:
    request = pb.ValidateSpecRequest(type="no-such-type", content="a: 1\n")
    error = grpc_api.fails("ValidateSpec", request)
    assert_rpc_error(error, Code.INVALID_ARGUMENT, "ValidationError")


def test_evaluate_uses_the_published_version_else_the_latest(grpc_api: GrpcApi) -> None:
    name = unique("evaluate")
    grpc_api.create(name, RULES, "regex-rules")
    hit = struct(email="jo@example.com")
    latest = grpc_api.call("EvaluateSpec", pb.EvaluateSpecRequest(name=name, input=hit))
    assert (latest.result, latest.version) == (True, 1)
    assert [(s.op, s.field, s.result) for s in latest.trace] == [("match", "email", True)]
    grpc_api.publish(name)
    grpc_api.update(name, "rule: {field: email, matches: '@other\\.org$'}\n")
    served = grpc_api.call("EvaluateSpec", pb.EvaluateSpecRequest(name=name, input=hit))
    assert (served.result, served.version) == (True, 1)
    chosen = grpc_api.call("EvaluateSpec", pb.EvaluateSpecRequest(name=name, input=hit, version=2))
    assert (chosen.result, chosen.version) == (False, 2)
    miss = grpc_api.call("EvaluateSpec", pb.EvaluateSpecRequest(name=name, input=struct()))
    assert miss.result is False  # a missing field is false


def test_evaluate_compares_integers_and_booleans_as_their_json_text(grpc_api: GrpcApi) -> None:
    name = unique("numbers")
    grpc_api.create(name, NUMBER_RULES, "regex-rules")
    request = pb.EvaluateSpecRequest(name=name, input=struct(n=3, ok=True))
    assert grpc_api.call("EvaluateSpec", request).result is True  # "3", not "3.0"
    request = pb.EvaluateSpecRequest(name=name, input=struct(n=3.5, ok=True))
    assert grpc_api.call("EvaluateSpec", request).result is False


def test_evaluate_errors(grpc_api: GrpcApi) -> None:
    generic, gone = unique("not-rules"), unique("gone-rules")
    grpc_api.create(generic)
    grpc_api.create(gone, RULES, "regex-rules")
    grpc_api.delete(gone)
    cases = [
        (generic, None, Code.INVALID_ARGUMENT, "ValidationError"),
        (gone, None, Code.NOT_FOUND, "SpecDeleted"),
        (unique("missing"), None, Code.NOT_FOUND, "SpecNotFound"),
    ]
    for name, version, code, reason in cases:
        request = pb.EvaluateSpecRequest(name=name, input=struct(email="x"), version=version)
        assert_rpc_error(grpc_api.fails("EvaluateSpec", request), code, reason)
    rules = unique("rules-v1")
    grpc_api.create(rules, RULES, "regex-rules")
    request = pb.EvaluateSpecRequest(name=rules, input=struct(), version=5)
    assert_rpc_error(grpc_api.fails("EvaluateSpec", request), Code.NOT_FOUND, "VersionNotFound")


def test_evaluate_without_input_is_invalid_argument_as_over_rest(grpc_api: GrpcApi) -> None:
    name = unique("needs-input")
    grpc_api.create(name, RULES, "regex-rules")
    request = pb.EvaluateSpecRequest(name=name)
    assert not request.HasField("input")
    error = grpc_api.fails("EvaluateSpec", request)
    info = assert_rpc_error(error, Code.INVALID_ARGUMENT, "BadRequest")
    assert error.details() == "input is required and must be a JSON object (a Struct)"
    assert info.metadata["field"] == "input"
    # An empty mapping is sent as an empty Struct, which a client sets explicitly.
    empty = pb.EvaluateSpecRequest(name=name, input={})
    assert empty.HasField("input")
    assert grpc_api.call("EvaluateSpec", empty).result is False


def test_list_types_gives_the_built_in_types_with_schemas(grpc_api: GrpcApi) -> None:
    types = {t.name: t for t in grpc_api.call("ListTypes", pb.ListTypesRequest()).types}
    assert {"generic", "regex-rules", "approval-workflow"} <= set(types)
    rules_schema = dict(types["regex-rules"].schema)
    assert "rule" in rules_schema.get("required", [])


# --- ListEvents ---------------------------------------------------------------------------


def test_list_events_filters_by_spec_actor_position_and_time(grpc_api: GrpcApi) -> None:
    name = unique("events")
    grpc_api.as_("alice").create(name)
    grpc_api.as_("bob").update(name, "a: 2\n")
    grpc_api.as_("paul").publish(name)

    def listed(**filters: object) -> pb.ListEventsResponse:
        return grpc_api.call("ListEvents", pb.ListEventsRequest(spec=name, **filters))

    every = listed().events
    assert [(e.event, e.actor) for e in every] == [
        ("SpecCreated", "alice"),
        ("SpecUpdated", "bob"),
        ("SpecStateChanged", "paul"),
    ]
    positions = [e.position for e in every]
    assert [e.position for e in listed(after=positions[0]).events] == positions[1:]
    first = listed(limit=1)
    assert [e.position for e in first.events] == positions[:1]
    assert first.next_after == positions[0]
    assert [e.actor for e in listed(actor="bob").events] == ["bob"]
    since, until = every[1].timestamp, every[1].timestamp
    assert [e.position for e in listed(since=since).events] == positions[1:]
    assert [e.position for e in listed(until=until).events] == positions[:2]
    empty = listed(after=positions[-1])
    assert not empty.events and empty.next_after == positions[-1]


def test_list_events_without_filters_is_the_global_log_in_commit_order(
    grpc_api: GrpcApi,
) -> None:
    grpc_api.create(unique("global-a"))
    grpc_api.create(unique("global-b"))
    log = grpc_api.call("ListEvents", pb.ListEventsRequest(limit=500)).events
    positions = [e.position for e in log]
    assert positions == sorted(set(positions)) and len(log) == grpc_api.events()
    assert grpc_api.call("ListEvents", pb.ListEventsRequest(actor="nobody-at-all")).events == []


# --- correlation ids and read-your-writes -------------------------------------------------


def test_a_given_correlation_id_is_echoed_and_stored_in_the_events(grpc_api: GrpcApi) -> None:
    name = unique("correlated")
    given = "trace:abc/123"
    request = pb.CreateSpecRequest(name=name, type="generic", content="a: 1\n")
    _, call = grpc_api.with_call("CreateSpec", request, [("x-correlation-id", given)])
    assert dict(call.initial_metadata())["x-correlation-id"] == given
    publish = pb.PublishSpecRequest(name=name, reason="r")
    grpc_api.with_call("PublishSpec", publish, [("x-correlation-id", "second-step")])
    assert [e.correlation_id for e in grpc_api.history(name)] == [given, "second-step"]


def test_without_a_correlation_id_the_server_makes_and_stores_one(grpc_api: GrpcApi) -> None:
    name = unique("uncorrelated")
    request = pb.CreateSpecRequest(name=name, type="generic", content="a: 1\n")
    _, call = grpc_api.with_call("CreateSpec", request)
    made = dict(call.initial_metadata())["x-correlation-id"]
    assert uuid.UUID(made)
    assert grpc_api.history(name)[0].correlation_id == made
    _, read = grpc_api.with_call("GetSpec", pb.GetSpecRequest(name=name))
    assert uuid.UUID(dict(read.initial_metadata())["x-correlation-id"]) != uuid.UUID(made)


def test_an_error_carries_the_correlation_id(grpc_api: GrpcApi) -> None:
    request = pb.GetSpecRequest(name=unique("lost"))
    error = grpc_api.fails("GetSpec", request, [("x-correlation-id", "find-me")])
    info = assert_rpc_error(error, Code.NOT_FOUND, "SpecNotFound")
    assert info.metadata["correlation_id"] == "find-me"


def test_a_write_is_visible_to_the_very_next_query(grpc_api: GrpcApi) -> None:
    for attempt in range(5):
        name = unique(f"ryw-{attempt}")
        grpc_api.create(name)
        listed = grpc_api.call("ListSpecs", pb.ListSpecsRequest(name_prefix=name)).specs
        assert [s.name for s in listed] == [name]
        grpc_api.update(name, "a: 2\n")
        listed = grpc_api.call("ListSpecs", pb.ListSpecsRequest(name_prefix=name)).specs
        assert listed[0].version == 2
        published = grpc_api.publish(name)
        served = grpc_api.call("GetPublishedSpec", pb.GetPublishedSpecRequest(name=name))
        assert served.version == 2
        log = grpc_api.call("ListEvents", pb.ListEventsRequest(spec=name)).events
        assert log[-1].position == published.position
        assert grpc_api.call("GetVersion", pb.GetVersionRequest(name=name, version=2)).size == 5


def test_reads_take_a_minimum_position_as_metadata(grpc_api: GrpcApi) -> None:
    name = unique("min-pos")
    spec = grpc_api.call(
        "CreateSpec", pb.CreateSpecRequest(name=name, type="generic", content="a: 1\n")
    )
    wanted = [("x-min-position", str(spec.position))]
    history = grpc_api.call("GetHistory", pb.GetHistoryRequest(name=name), wanted)
    assert [e.position for e in history.events] == [spec.position]
    for bad in ("-1", "soon", str(spec.position + 1000)):
        error = grpc_api.fails("ListSpecs", pb.ListSpecsRequest(), [("x-min-position", bad)])
        info = assert_rpc_error(error, grpc.StatusCode.INVALID_ARGUMENT, "BadRequest")
        assert "x-min-position" in error.details() or "last_position" in info.metadata, bad
