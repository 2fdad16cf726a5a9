"""Authentication and roles through the gRPC API (docs/behaviour.md)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import jwt
import pytest
from google.protobuf.struct_pb2 import Struct
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from grpc_api import calls
from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from specsvc.auth import ACTIONS as KNOWN_ACTIONS
from tests.support.grpc import (
    RPC_TIMEOUT,
    GrpcApi,
    assert_rpc_error,
    served_service,
    serving,
    unique,
)
from tests.support.principals import ROLE_PRINCIPAL, JwtKeys, authenticator, claims, hs256_token
from tests.support.stores import ADAPTER_BACKEND, open_service

Code = grpc.StatusCode
SERVICE = pb.DESCRIPTOR.services_by_name["SpecService"]
RULES = "rule: {field: email, matches: '@example\\.com$'}\n"

# Written out from docs/behaviour.md, not derived from the code.
MAY = {
    "reader": set(),
    "author": {"CreateSpec", "UpdateSpec"},
    "publisher": {"PublishSpec", "DeprecateSpec"},
    "admin": {"CreateSpec", "UpdateSpec", "PublishSpec", "DeprecateSpec", "DeleteSpec"},
}
WRITES = ["CreateSpec", "UpdateSpec", "PublishSpec", "DeprecateSpec", "DeleteSpec"]
EXPECTED_ACTIONS = {
    "CreateSpec": "create",
    "UpdateSpec": "update",
    "PublishSpec": "publish",
    "DeprecateSpec": "deprecate",
    "DeleteSpec": "delete",
}


class World:
    """A draft and a published spec, fresh for each test, written by ada."""

    def __init__(self, api: GrpcApi):
        self.api = api
        self.draft, self.live, self.fresh = unique("draft"), unique("live"), unique("fresh")
        api.create(self.draft)
        api.create(self.live, RULES, "regex-rules")
        api.publish(self.live)

    def write(self, rpc: str) -> pb.Spec:
        """The request for each write, aimed to succeed for a principal allowed to make it."""
        if rpc == "CreateSpec":
            return pb.CreateSpecRequest(name=self.fresh, type="generic", content="a: 1\n")
        if rpc == "UpdateSpec":
            return pb.UpdateSpecRequest(name=self.draft, content="a: 2\n", reason="edit")
        if rpc == "DeprecateSpec":
            return pb.DeprecateSpecRequest(name=self.live, reason="retire")
        return getattr(pb, f"{rpc}Request")(name=self.draft, reason="because")

    def reads(self) -> dict[str, object]:
        email = Struct()
        email.update({"email": "a@example.com"})
        live = self.live
        return {
            "GetSpec": pb.GetSpecRequest(name=live),
            "GetPublishedSpec": pb.GetPublishedSpecRequest(name=live),
            "ListSpecs": pb.ListSpecsRequest(name_prefix=live),
            "ListVersions": pb.ListVersionsRequest(name=live),
            "GetVersion": pb.GetVersionRequest(name=live, version=1),
            "GetHistory": pb.GetHistoryRequest(name=live),
            "DiffVersions": pb.DiffVersionsRequest(name=live, from_version=1, to_version=1),
            "ValidateSpec": pb.ValidateSpecRequest(type="generic", content="a: 1\n"),
            "EvaluateSpec": pb.EvaluateSpecRequest(name=live, input=email),
            "ListEvents": pb.ListEventsRequest(spec=live),
            "ListTypes": pb.ListTypesRequest(),
        }

    def snapshot(self) -> list[pb.Spec]:
        return [
            self.api.call("GetSpec", pb.GetSpecRequest(name=n)) for n in (self.draft, self.live)
        ]


@pytest.fixture
def world(grpc_api: GrpcApi) -> World:
    return World(grpc_api)


def first_watched(
    api: GrpcApi, name: str, metadata: list[tuple[str, str]] | None = None
) -> pb.Event:
    stream = api.stub.WatchEvents(
        pb.WatchEventsRequest(after=0, names=[name]),
        metadata=api.metadata() if metadata is None else metadata,
        timeout=RPC_TIMEOUT,
    )
    try:
        return next(stream)
    finally:
        stream.cancel()


# --- the role matrix ----------------------------------------------------------------------


@pytest.mark.parametrize("rpc", WRITES)
@pytest.mark.parametrize("role", list(MAY))
def test_each_role_may_make_exactly_its_writes(world: World, role: str, rpc: str) -> None:
    caller = world.api.as_(ROLE_PRINCIPAL[role])
    before = world.api.events()
    if rpc in MAY[role]:
        spec = caller.call(rpc, world.write(rpc))
        assert spec.updated_by == ROLE_PRINCIPAL[role]
        assert world.api.events() == before + 1
        return
    error = caller.fails(rpc, world.write(rpc))
    info = assert_rpc_error(error, Code.PERMISSION_DENIED, "PermissionDenied")
    assert info.metadata["action"] == EXPECTED_ACTIONS[rpc]
    assert world.api.events() == before


@pytest.mark.parametrize("rpc", WRITES)
def test_a_reader_may_make_no_write_and_nothing_changes(world: World, rpc: str) -> None:
    before, specs = world.api.events(), world.snapshot()
    error = world.api.as_("rita").fails(rpc, world.write(rpc))
    assert_rpc_error(error, Code.PERMISSION_DENIED, "PermissionDenied")
    assert world.api.events() == before
    assert world.snapshot() == specs
    error = world.api.fails("GetSpec", pb.GetSpecRequest(name=world.fresh))
    assert_rpc_error(error, Code.NOT_FOUND, "SpecNotFound")


@pytest.mark.parametrize("role", list(MAY))
def test_every_role_may_make_every_query(world: World, role: str) -> None:
    caller = world.api.as_(ROLE_PRINCIPAL[role])
    before = world.api.events()
    for rpc, request in world.reads().items():
        caller.call(rpc, request)  # raises on any error
    assert first_watched(caller, world.live).spec == world.live
    assert world.api.events() == before


def test_the_reads_cover_every_query_rpc(world: World) -> None:
    queries = set(SERVICE.methods_by_name) - set(WRITES)
    assert set(world.reads()) | {"WatchEvents"} == queries


# --- no token, bad tokens -----------------------------------------------------------------


@pytest.mark.parametrize("rpc", sorted(set(SERVICE.methods_by_name) - {"WatchEvents"}))
def test_every_rpc_without_a_token_is_unauthenticated(world: World, rpc: str) -> None:
    request = world.write(rpc) if rpc in WRITES else world.reads()[rpc]
    before = world.api.events()
    error = world.api.as_(None).fails(rpc, request)
    info = assert_rpc_error(error, Code.UNAUTHENTICATED, "Unauthenticated")
    assert "error" not in info.metadata  # no credentials: no error code (RFC 6750 3.1)
    assert world.api.events() == before


def test_watching_without_a_token_is_unauthenticated(world: World) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        first_watched(world.api, world.live, metadata=[])
    assert_rpc_error(raised.value, Code.UNAUTHENTICATED, "Unauthenticated")


@pytest.mark.parametrize(
    "header",
    ["Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer", "Bearer ", "Token sst_x", "Bearer a b"],
)
def test_a_malformed_authorization_value_is_unauthenticated(world: World, header: str) -> None:
    before = world.api.events()
    error = world.api.as_(None).fails(
        "CreateSpec", world.write("CreateSpec"), [("authorization", header)]
    )
    assert_rpc_error(error, Code.UNAUTHENTICATED, "Unauthenticated")
    assert world.api.events() == before


def test_an_unknown_token_is_unauthenticated_invalid_token(world: World) -> None:
    before = world.api.events()
    for rpc in ("CreateSpec", "GetSpec"):
        request = world.write(rpc) if rpc in WRITES else world.reads()[rpc]
        sent = [("authorization", "Bearer sst_" + secrets.token_urlsafe(32))]
        error = world.api.as_(None).fails(rpc, request, sent)
        info = assert_rpc_error(error, Code.UNAUTHENTICATED, "Unauthenticated")
        assert info.metadata["error"] == "invalid_token"
    assert world.api.events() == before


def test_the_bearer_scheme_is_case_insensitive(world: World) -> None:
    sent = [("authorization", "bEaReR sst_test-token-of-rita")]
    spec = world.api.as_(None).call("GetSpec", pb.GetSpecRequest(name=world.live), sent)
    assert spec.name == world.live


def _unsigned(payload: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def bad_jwts(keys: JwtKeys) -> dict[str, str]:
    now = int(time.time())
    return {
        "forged-signature": jwt.encode(claims(), secrets.token_bytes(32), algorithm="HS256"),
        "expired": hs256_token(keys, exp=now - 3600),
        "not-yet-valid": hs256_token(keys, nbf=now + 3600),
        "wrong-audience": hs256_token(keys, aud="someone-else"),
        "wrong-issuer": hs256_token(keys, iss="https://evil.example"),
        "alg-none": _unsigned(claims()),
        "rs256-instead-of-hs256": jwt.encode(claims(), keys.rsa_private, algorithm="RS256"),
        "no-subject": jwt.encode(
            {k: v for k, v in claims().items() if k != "sub"}, keys.hs256_secret, "HS256"
        ),
        "unknown-role": hs256_token(keys, roles=("superuser",)),
        "garbage": "not.a.jwt",
    }


BAD_JWTS = [
    "forged-signature",
    "expired",
    "not-yet-valid",
    "wrong-audience",
    "wrong-issuer",
    "alg-none",
    "rs256-instead-of-hs256",
    "no-subject",
    "unknown-role",
    "garbage",
]


def test_the_bad_jwt_cases_are_all_exercised(jwt_keys: JwtKeys) -> None:
    assert sorted(bad_jwts(jwt_keys)) == sorted(BAD_JWTS)


@pytest.mark.parametrize("kind", BAD_JWTS)
def test_a_bad_jwt_is_unauthenticated_and_writes_nothing(
    world: World, jwt_keys: JwtKeys, kind: str
) -> None:
    token = bad_jwts(jwt_keys)[kind]
    before = world.api.events()
    sent = [("authorization", f"Bearer {token}")]
    error = world.api.as_(None).fails("CreateSpec", world.write("CreateSpec"), sent)
    info = assert_rpc_error(error, Code.UNAUTHENTICATED, "Unauthenticated")
    assert info.metadata["error"] == "invalid_token"
    assert world.api.events() == before


def test_a_valid_jwt_is_accepted_and_its_subject_is_the_actor(
    world: World, jwt_keys: JwtKeys
) -> None:
    sent = [("authorization", f"Bearer {hs256_token(jwt_keys, subject='jwt-jane')}")]
    spec = world.api.as_(None).call("CreateSpec", world.write("CreateSpec"), sent)
    assert spec.created_by == "jwt-jane"
    assert [e.actor for e in world.api.history(world.fresh)] == ["jwt-jane"]


def test_a_jwt_grants_only_its_roles(world: World, jwt_keys: JwtKeys) -> None:
    token = hs256_token(jwt_keys, subject="jwt-reader", roles=("reader",))
    sent = [("authorization", f"Bearer {token}")]
    reader = world.api.as_(None)
    assert reader.call("GetSpec", pb.GetSpecRequest(name=world.live), sent).name == world.live
    error = reader.fails("CreateSpec", world.write("CreateSpec"), sent)
    assert_rpc_error(error, Code.PERMISSION_DENIED, "PermissionDenied")


# --- recorded actors ----------------------------------------------------------------------


def test_the_recorded_actor_is_the_authenticated_principal(grpc_api: GrpcApi) -> None:
    name = unique("actors")
    grpc_api.as_("alice").create(name)
    grpc_api.as_("bob").update(name, "a: 2\n")
    grpc_api.as_("paul").publish(name)
    grpc_api.as_("penny").deprecate(name)
    grpc_api.as_("ada").delete(name)
    assert [e.actor for e in grpc_api.history(name)] == ["alice", "bob", "paul", "penny", "ada"]
    listed = grpc_api.call("ListEvents", pb.ListEventsRequest(spec=name, actor="bob")).events
    assert [e.event for e in listed] == ["SpecUpdated"]
    versions = grpc_api.call("ListVersions", pb.ListVersionsRequest(name=name)).versions
    assert [v.created_by for v in versions] == ["alice", "bob"]


def test_without_an_authenticator_everyone_is_anonymous_with_every_role(
    tmp_path: Path,
) -> None:
    with served_service("memory", tmp_path) as api:
        anonymous = api.as_(None)
        assert anonymous.create("anon").created_by == "anonymous"
        assert anonymous.delete("anon").state == "deleted"
        assert [e.actor for e in anonymous.history("anon")] == ["anonymous", "anonymous"]


# --- four eyes ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def four_eyes_api(
    tmp_path_factory: pytest.TempPathFactory, jwt_keys: JwtKeys
) -> Iterator[GrpcApi]:
    folder = tmp_path_factory.mktemp("four-eyes")
    service = open_service(ADAPTER_BACKEND, folder, four_eyes=True)
    try:
        with serving(service, authenticator(jwt_keys)) as api:
            yield api
    finally:
        service.close()


def test_four_eyes_stops_the_author_of_a_version_from_publishing_it(
    four_eyes_api: GrpcApi,
) -> None:
    name = unique("own")
    carol = four_eyes_api.as_("carol")
    carol.create(name)
    before = four_eyes_api.events()
    error = carol.fails("PublishSpec", pb.PublishSpecRequest(name=name, reason="mine"))
    info = assert_rpc_error(error, Code.PERMISSION_DENIED, "SeparationOfDuties")
    assert info.metadata["author"] == "carol"
    assert four_eyes_api.events() == before
    assert four_eyes_api.as_("paul").publish(name).state == "published"


def test_four_eyes_looks_at_who_wrote_the_version_being_published(
    four_eyes_api: GrpcApi,
) -> None:
    name = unique("mixed")
    four_eyes_api.as_("alice").create(name)
    four_eyes_api.as_("carol").update(name, "a: 2\n")
    carol = four_eyes_api.as_("carol")
    error = carol.fails("PublishSpec", pb.PublishSpecRequest(name=name, reason="r"))
    assert_rpc_error(error, Code.PERMISSION_DENIED, "SeparationOfDuties")
    assert carol.publish(name, version=1).published_version == 1


def test_without_four_eyes_an_author_may_publish_their_own_version(grpc_api: GrpcApi) -> None:
    name = unique("solo")
    carol = grpc_api.as_("carol")
    carol.create(name)
    assert carol.publish(name).state == "published"


# --- health and reflection need no token --------------------------------------------------


@pytest.mark.parametrize("service_name", ["", "specsvc.v1.SpecService"])
def test_health_needs_no_token(grpc_api: GrpcApi, service_name: str) -> None:
    health = health_pb2_grpc.HealthStub(grpc_api.channel)
    answer = health.Check(health_pb2.HealthCheckRequest(service=service_name), timeout=RPC_TIMEOUT)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_needs_no_token(grpc_api: GrpcApi) -> None:
    reflection = reflection_pb2_grpc.ServerReflectionStub(grpc_api.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    [answer] = list(reflection.ServerReflectionInfo(iter([request]), timeout=RPC_TIMEOUT))
    names = {s.name for s in answer.list_services_response.service}
    assert "specsvc.v1.SpecService" in names


# --- default deny -------------------------------------------------------------------------


def test_every_rpc_of_the_service_has_an_action() -> None:
    assert set(calls.ACTIONS) == set(SERVICE.methods_by_name)
    assert set(calls.ACTIONS.values()) <= set(KNOWN_ACTIONS)


def test_writes_map_to_their_own_actions_and_everything_else_only_reads() -> None:
    for rpc, action in calls.ACTIONS.items():
        assert action == EXPECTED_ACTIONS.get(rpc, "read"), rpc


@pytest.mark.parametrize("principal", ["ada", None])
def test_a_method_the_service_does_not_define_is_unimplemented(
    grpc_api: GrpcApi, principal: str | None
) -> None:
    drop = grpc_api.channel.unary_unary(
        "/specsvc.v1.SpecService/DropEverything",
        request_serializer=lambda raw: raw,
        response_deserializer=lambda raw: raw,
    )
    before = grpc_api.events()
    with pytest.raises(grpc.RpcError) as raised:
        drop(b"", metadata=grpc_api.as_(principal).metadata(), timeout=RPC_TIMEOUT)
    assert raised.value.code() == Code.UNIMPLEMENTED
    assert grpc_api.events() == before


def test_an_rpc_missing_from_actions_is_denied_even_to_admin(
    grpc_api: GrpcApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique("closed")
    grpc_api.create(name)
    monkeypatch.delitem(calls.ACTIONS, "DeleteSpec")
    before = grpc_api.events()
    error = grpc_api.fails("DeleteSpec", pb.DeleteSpecRequest(name=name, reason="r"))
    assert_rpc_error(error, Code.PERMISSION_DENIED, "PermissionDenied")
    assert grpc_api.events() == before
    assert grpc_api.call("GetSpec", pb.GetSpecRequest(name=name)).state == "draft"
