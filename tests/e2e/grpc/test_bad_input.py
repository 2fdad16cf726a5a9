"""The bad-input corpus of the REST tests, sent through gRPC: each gets its status and
error code, none is INTERNAL or UNKNOWN, and none writes anything."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
import pytest
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from grpc_api.calls import CORRELATION_ID
from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from specsvc.config import Settings
from tests.support.grpc import RPC_TIMEOUT, GrpcApi, assert_rpc_error
from tests.support.hostile_inputs import BAD_NAMES, BILLION_LAUGHS, YAML_ATTACKS

Code = grpc.StatusCode
SPEC_LIMIT = Settings().max_spec_bytes
# Past the server's grpc.max_receive_message_length (4 x the spec limit + 16 KiB).
OVER_RECEIVE_LIMIT = 4 * SPEC_LIMIT + 16 * 1024 + 1024
RULES = "rule: {field: email, matches: '@example\\.com$'}\n"
BAD_REQUEST = ("BadRequest",)
VALIDATION = ("ValidationError",)
# Either reading is defensible for a value no valid message can carry: malformed input
# (BadRequest) or a field value that is not valid text or JSON (ValidationError).
UNREADABLE = ("BadRequest", "ValidationError")


@dataclass(frozen=True)
class Bad:
    id: str
    rpc: str
    request: Message | bytes  # bytes are sent as they are, to say what no stub would
    code: grpc.StatusCode
    reasons: tuple[str, ...]  # () when the transport answers, before any handler runs
    metadata: tuple[tuple[str, str], ...] = field(default=())


def create(content: str = "a: 1\n", name: str = "fresh", type: str = "generic") -> Message:
    return pb.CreateSpecRequest(name=name, type=type, content=content)


def update(content: str = "a: 2\n", reason: str = "r", **fields: object) -> Message:
    return pb.UpdateSpecRequest(name="demo", content=content, reason=reason, **fields)


def yaml_attack(case_id: str, content: str) -> Bad:
    return Bad(f"yaml-{case_id}", "CreateSpec", create(content), Code.INVALID_ARGUMENT, VALIDATION)


def bad_name(case_id: str, name: str) -> Bad:
    return Bad(
        f"name-{case_id}", "CreateSpec", create(name=name), Code.INVALID_ARGUMENT, VALIDATION
    )


def lookup(case_id: str, rpc: str, request: Message) -> Bad:
    return Bad(f"lookup-{case_id}", rpc, request, Code.NOT_FOUND, ("SpecNotFound",))


def bad_request(
    case_id: str, rpc: str, request: Message, metadata: tuple[tuple[str, str], ...] = ()
) -> Bad:
    return Bad(case_id, rpc, request, Code.INVALID_ARGUMENT, BAD_REQUEST, metadata)


def struct(**values: object) -> Struct:
    result = Struct()
    result.update(values)
    return result


def evaluate(**values: object) -> Message:
    return pb.EvaluateSpecRequest(name="rules", input=struct(**values))


def at(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


# --- hand-made wire bytes -----------------------------------------------------------------


def varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def field_bytes(number: int, payload: bytes) -> bytes:
    """A length-delimited field: how proto3 strings and sub-messages travel."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def nested_struct(depth: int) -> bytes:
    """Struct{fields: {"x": Value{struct_value: ...}}} ``depth`` times over."""
    inner = b""
    for _ in range(depth):
        entry = field_bytes(1, b"x") + field_bytes(2, field_bytes(5, inner))
        inner = field_bytes(1, entry)
    return inner


INVALID_UTF8 = b"\xff\xfe\xc3("

CORPUS = [
    # --- sizes ----------------------------------------------------------------------------
    Bad(
        "message-over-max-receive-size",
        "CreateSpec",
        create("a: " + "x" * OVER_RECEIVE_LIMIT),
        Code.RESOURCE_EXHAUSTED,
        ("PayloadTooLarge",),
    ),
    Bad(
        "update-message-over-max-receive-size",
        "UpdateSpec",
        update("a: " + "x" * OVER_RECEIVE_LIMIT),
        Code.RESOURCE_EXHAUSTED,
        ("PayloadTooLarge",),
    ),
    Bad(
        "content-over-max-spec-bytes",
        "CreateSpec",
        create("a: " + "x" * SPEC_LIMIT + "\n"),
        Code.RESOURCE_EXHAUSTED,
        ("PayloadTooLarge",),
    ),
    Bad(
        "multibyte-content-over-max-spec-bytes",
        "CreateSpec",
        create("a: " + "é" * (SPEC_LIMIT // 2 + 50) + "\n"),
        Code.RESOURCE_EXHAUSTED,
        ("PayloadTooLarge",),
    ),
    Bad(
        "update-content-over-max-spec-bytes",
        "UpdateSpec",
        update("a: " + "x" * SPEC_LIMIT),
        Code.RESOURCE_EXHAUSTED,
        ("PayloadTooLarge",),
    ),
    # --- YAML attacks as content ----------------------------------------------------------
    *(yaml_attack(name, text) for name, text in YAML_ATTACKS.items()),
    Bad(
        "yaml-python-tag-on-update",
        "UpdateSpec",
        update("a: !!python/object/apply:os.system ['id']\n"),
        Code.INVALID_ARGUMENT,
        VALIDATION,
    ),
    Bad(
        "yaml-billion-laughs-on-update",
        "UpdateSpec",
        update(BILLION_LAUGHS),
        Code.INVALID_ARGUMENT,
        VALIDATION,
    ),
    Bad("yaml-nul-on-update", "UpdateSpec", update("a: 1\x00"), Code.INVALID_ARGUMENT, VALIDATION),
    Bad(
        "yaml-schema-violation-on-update",
        "UpdateSpec",
        pb.UpdateSpecRequest(name="rules", content="rule: {field: x}\n", reason="r"),
        Code.INVALID_ARGUMENT,
        VALIDATION,
    ),
    # --- names ----------------------------------------------------------------------------
    *(bad_name(case, name) for case, name in BAD_NAMES.items()),
    # --- path-traversal and look-alike names in lookups -----------------------------------
    lookup("traversal-get", "GetSpec", pb.GetSpecRequest(name="../../etc/passwd")),
    lookup("dot-dot-get", "GetSpec", pb.GetSpecRequest(name="..")),
    lookup("dot-dot-history", "GetHistory", pb.GetHistoryRequest(name="..")),
    lookup("traversal-published", "GetPublishedSpec", pb.GetPublishedSpecRequest(name="../demo")),
    lookup("traversal-versions", "ListVersions", pb.ListVersionsRequest(name="demo/../rules")),
    lookup("encoded-get-version", "GetVersion", pb.GetVersionRequest(name="%2e%2e", version=1)),
    lookup("dot-dot-publish", "PublishSpec", pb.PublishSpecRequest(name="..", reason="r")),
    lookup(
        "dot-slash-update",
        "UpdateSpec",
        pb.UpdateSpecRequest(name="./demo", content="a: 2", reason="r"),
    ),
    lookup("upper-get", "GetSpec", pb.GetSpecRequest(name="DEMO")),
    lookup("nul-get", "GetSpec", pb.GetSpecRequest(name="demo\x00")),
    lookup("cyrillic-get", "GetSpec", pb.GetSpecRequest(name="d\u0435mo")),
    lookup("traversal-evaluate", "EvaluateSpec", pb.EvaluateSpecRequest(name="../rules", input={})),
    lookup(
        "dot-dot-diff",
        "DiffVersions",
        pb.DiffVersionsRequest(name="..", from_version=1, to_version=1),
    ),
    lookup("empty-name-delete", "DeleteSpec", pb.DeleteSpecRequest(name="", reason="r")),
    # --- types and reasons ----------------------------------------------------------------
    Bad(
        "unknown-type", "CreateSpec", create(type="no-such-type"), Code.INVALID_ARGUMENT, VALIDATION
    ),
    Bad("missing-type", "CreateSpec", create(type=""), Code.INVALID_ARGUMENT, VALIDATION),
    Bad(
        "validate-unknown-type",
        "ValidateSpec",
        pb.ValidateSpecRequest(type="../generic", content="a: 1"),
        Code.INVALID_ARGUMENT,
        VALIDATION,
    ),
    Bad(
        "reason-missing-publish",
        "PublishSpec",
        pb.PublishSpecRequest(name="demo"),
        Code.INVALID_ARGUMENT,
        VALIDATION,
    ),
    Bad(
        "reason-missing-update", "UpdateSpec", update(reason=""), Code.INVALID_ARGUMENT, VALIDATION
    ),
    Bad(
        "reason-1001-chars",
        "UpdateSpec",
        update(reason="r" * 1001),
        Code.INVALID_ARGUMENT,
        VALIDATION,
    ),
    Bad(
        "reason-blank-delete",
        "DeleteSpec",
        pb.DeleteSpecRequest(name="demo", reason=" \t\n "),
        Code.INVALID_ARGUMENT,
        VALIDATION,
    ),
    Bad(
        "reason-missing-deprecate",
        "DeprecateSpec",
        pb.DeprecateSpecRequest(name="rules"),
        Code.INVALID_ARGUMENT,
        VALIDATION,
    ),
    Bad(
        "create-reason-1001-chars",
        "CreateSpec",
        pb.CreateSpecRequest(name="fresh", type="generic", content="a: 1", reason="r" * 1001),
        Code.INVALID_ARGUMENT,
        VALIDATION,
    ),
    # --- versions and revisions -----------------------------------------------------------
    bad_request("expected-version-zero", "UpdateSpec", update(expected_version=0)),
    bad_request("expected-version-negative", "UpdateSpec", update(expected_version=-1)),
    bad_request("expected-revision-zero", "UpdateSpec", update(expected_revision=0)),
    bad_request(
        "expected-revision-negative-delete",
        "DeleteSpec",
        pb.DeleteSpecRequest(name="demo", reason="r", expected_revision=-5),
    ),
    bad_request(
        "publish-version-zero",
        "PublishSpec",
        pb.PublishSpecRequest(name="demo", reason="r", version=0),
    ),
    bad_request(
        "publish-version-negative",
        "PublishSpec",
        pb.PublishSpecRequest(name="demo", reason="r", version=-1),
    ),
    Bad(
        "publish-version-huge",
        "PublishSpec",
        pb.PublishSpecRequest(name="demo", reason="r", version=2**62),
        Code.NOT_FOUND,
        ("VersionNotFound",),
    ),
    bad_request("get-version-zero", "GetSpec", pb.GetSpecRequest(name="demo", version=0)),
    bad_request("get-version-negative", "GetSpec", pb.GetSpecRequest(name="demo", version=-3)),
    bad_request("version-unset", "GetVersion", pb.GetVersionRequest(name="demo")),
    bad_request("version-negative", "GetVersion", pb.GetVersionRequest(name="demo", version=-1)),
    bad_request(
        "diff-from-zero",
        "DiffVersions",
        pb.DiffVersionsRequest(name="demo", from_version=0, to_version=1),
    ),
    bad_request(
        "diff-to-negative",
        "DiffVersions",
        pb.DiffVersionsRequest(name="demo", from_version=1, to_version=-1),
    ),
    bad_request(
        "evaluate-version-zero",
        "EvaluateSpec",
        pb.EvaluateSpecRequest(name="rules", input={}, version=0),
    ),
    bad_request(
        "version-and-as-of",
        "GetSpec",
        pb.GetSpecRequest(name="demo", version=1, as_of=at(1_700_000_000)),
    ),
    # --- paging and filters ---------------------------------------------------------------
    bad_request("limit-zero", "ListSpecs", pb.ListSpecsRequest(limit=0)),
    bad_request("limit-501", "ListSpecs", pb.ListSpecsRequest(limit=501)),
    bad_request("limit-negative", "ListSpecs", pb.ListSpecsRequest(limit=-1)),
    bad_request("limit-int32-max", "ListSpecs", pb.ListSpecsRequest(limit=2**31 - 1)),
    bad_request("events-limit-zero", "ListEvents", pb.ListEventsRequest(limit=0)),
    bad_request("events-limit-501", "ListEvents", pb.ListEventsRequest(limit=501)),
    bad_request("after-negative", "ListEvents", pb.ListEventsRequest(after=-1)),
    bad_request("page-token-garbage", "ListSpecs", pb.ListSpecsRequest(page_token="\x00\xff")),
    bad_request("page-token-text", "ListSpecs", pb.ListSpecsRequest(page_token="not-a-token")),
    bad_request("page-token-empty-object", "ListSpecs", pb.ListSpecsRequest(page_token="e30")),
    bad_request("state-unknown", "ListSpecs", pb.ListSpecsRequest(state="gone")),
    bad_request("name-prefix-10kb", "ListSpecs", pb.ListSpecsRequest(name_prefix="a" * 10_240)),
    bad_request("actor-10kb", "ListEvents", pb.ListEventsRequest(actor="a" * 10_240)),
    # --- metadata -------------------------------------------------------------------------
    bad_request(
        "correlation-id-with-space",
        "CreateSpec",
        create(),
        metadata=(("x-correlation-id", "has space"),),
    ),
    bad_request(
        "correlation-id-129-chars",
        "CreateSpec",
        create(),
        metadata=(("x-correlation-id", "c" * 129),),
    ),
    bad_request(
        "correlation-id-7000-chars",
        "GetSpec",
        pb.GetSpecRequest(name="demo"),
        metadata=(("x-correlation-id", "c" * 7000),),
    ),
    # --- evaluation input -----------------------------------------------------------------
    Bad(
        "evaluate-generic-spec",
        "EvaluateSpec",
        pb.EvaluateSpecRequest(name="demo", input={}),
        Code.INVALID_ARGUMENT,
        VALIDATION,
    ),
    bad_request("evaluate-without-input", "EvaluateSpec", pb.EvaluateSpecRequest(name="rules")),
    bad_request(
        "evaluate-without-input-on-a-missing-spec",
        "EvaluateSpec",
        pb.EvaluateSpecRequest(name="no-such-rules"),
    ),
    Bad(
        "evaluate-input-nan",
        "EvaluateSpec",
        evaluate(email=float("nan")),
        Code.INVALID_ARGUMENT,
        UNREADABLE,
    ),
    Bad(
        "evaluate-input-infinity",
        "EvaluateSpec",
        evaluate(email=float("inf")),
        Code.INVALID_ARGUMENT,
        UNREADABLE,
    ),
    Bad(
        "evaluate-input-nested-minus-infinity",
        "EvaluateSpec",
        evaluate(email=[{"n": float("-inf")}]),
        Code.INVALID_ARGUMENT,
        UNREADABLE,
    ),
    # --- timestamps outside what Timestamp allows -------------------------------------------
    bad_request(
        "as-of-after-year-9999", "GetSpec", pb.GetSpecRequest(name="demo", as_of=at(2**62))
    ),
    bad_request(
        "published-as-of-year-10000",
        "GetPublishedSpec",
        pb.GetPublishedSpecRequest(name="rules", as_of=at(253_402_300_800)),
    ),
    bad_request("as-of-negative-nanos", "GetSpec", pb.GetSpecRequest(name="demo", as_of=at(1, -5))),
    bad_request(
        "as-of-nanos-overflow", "GetSpec", pb.GetSpecRequest(name="demo", as_of=at(1, 10**9))
    ),
    bad_request("since-before-year-1", "ListEvents", pb.ListEventsRequest(since=at(-(2**62)))),
    bad_request("until-negative-nanos", "ListEvents", pb.ListEventsRequest(until=at(0, -1))),
    # --- bytes no well-behaved client sends -----------------------------------------------
    Bad(
        "invalid-utf8-name",
        "CreateSpec",
        field_bytes(1, INVALID_UTF8) + field_bytes(2, b"generic") + field_bytes(3, b"a: 1\n"),
        Code.INVALID_ARGUMENT,
        UNREADABLE,
    ),
    Bad(
        "invalid-utf8-content",
        "UpdateSpec",
        field_bytes(1, b"demo") + field_bytes(2, b"a: " + INVALID_UTF8) + field_bytes(3, b"r"),
        Code.INVALID_ARGUMENT,
        UNREADABLE,
    ),
    Bad(
        "invalid-utf8-reason",
        "PublishSpec",
        field_bytes(1, b"demo") + field_bytes(2, INVALID_UTF8),
        Code.INVALID_ARGUMENT,
        UNREADABLE,
    ),
    Bad(
        "invalid-utf8-input-key",
        "EvaluateSpec",
        field_bytes(1, b"rules") + field_bytes(2, field_bytes(1, field_bytes(1, INVALID_UTF8))),
        Code.INVALID_ARGUMENT,
        UNREADABLE,
    ),
    Bad(
        "input-nested-past-the-parser-depth",
        "EvaluateSpec",
        field_bytes(1, b"rules") + field_bytes(2, nested_struct(60)),
        Code.INVALID_ARGUMENT,
        UNREADABLE,
    ),
    Bad(
        "not-a-protobuf-message",
        "GetSpec",
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        Code.INVALID_ARGUMENT,
        BAD_REQUEST,
    ),
    Bad(
        "truncated-message",
        "GetSpec",
        field_bytes(1, b"demo")[:-2],
        Code.INVALID_ARGUMENT,
        BAD_REQUEST,
    ),
    # A field of the wrong wire type is an unknown field to protobuf: the name stays unset.
    Bad(
        "name-sent-as-a-number",
        "GetSpec",
        varint(1 << 3 | 0) + varint(7),
        Code.NOT_FOUND,
        ("SpecNotFound",),
    ),
]


@pytest.fixture(scope="module")
def seeded(grpc_api: GrpcApi) -> GrpcApi:
    """``demo`` a generic draft, ``rules`` a published regex-rules spec."""
    grpc_api.create("demo")
    grpc_api.create("rules", RULES, "regex-rules")
    grpc_api.publish("rules")
    return grpc_api


def send(api: GrpcApi, case: Bad) -> grpc.RpcError:
    if isinstance(case.request, Message):
        return api.fails(case.rpc, case.request, case.metadata)
    method = pb.DESCRIPTOR.services_by_name["SpecService"].methods_by_name[case.rpc]
    raw = api.channel.unary_unary(
        f"/specsvc.v1.SpecService/{case.rpc}",
        request_serializer=lambda data: data,
        response_deserializer=getattr(pb, method.output_type.name).FromString,
    )
    with pytest.raises(grpc.RpcError) as raised:
        raw(case.request, metadata=api.metadata(case.metadata), timeout=RPC_TIMEOUT)
    return raised.value


def test_the_corpus_is_large_and_its_ids_are_unique() -> None:
    assert len(CORPUS) >= 30
    assert len({case.id for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.id)
def test_bad_input_gets_its_status_and_code_and_writes_nothing(seeded: GrpcApi, case: Bad) -> None:
    before = seeded.events()
    error = send(seeded, case)
    assert error.code() not in (Code.INTERNAL, Code.UNKNOWN), f"{error.code()} {error.details()}"
    if case.reasons:
        assert_rpc_error(error, case.code, case.reasons)
    else:
        assert error.code() == case.code, f"{error.code()} {error.details()}"
    assert seeded.events() == before
    assert seeded.fails("GetSpec", pb.GetSpecRequest(name="fresh")).code() == Code.NOT_FOUND


def test_an_invalid_correlation_id_is_not_echoed_back(seeded: GrpcApi) -> None:
    given = "not valid"
    error = seeded.fails("GetSpec", pb.GetSpecRequest(name="demo"), [("x-correlation-id", given)])
    info = assert_rpc_error(error, Code.INVALID_ARGUMENT, "BadRequest")
    assert info.metadata["correlation_id"] != given
    assert CORRELATION_ID.fullmatch(info.metadata["correlation_id"])


def test_the_seeds_are_untouched_by_the_corpus(seeded: GrpcApi) -> None:
    demo = seeded.call("GetSpec", pb.GetSpecRequest(name="demo"))
    rules = seeded.call("GetSpec", pb.GetSpecRequest(name="rules"))
    assert (demo.state, demo.version, demo.revision) == ("draft", 1, 1)
    assert (rules.state, rules.version, rules.revision) == ("published", 1, 2)
