"""Rich error details through a real server: ErrorInfo first, then, for a ValidationError,
a google.rpc.BadRequest with one field violation per problem."""

from __future__ import annotations

import json

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from tests.support.grpc import GrpcApi, assert_rpc_error, unique

Code = grpc.StatusCode
# Three problems: a missing rule, and two unknown fields.
BROKEN_RULES = "description: no rule\nextra: 1\nmore: 2\n"


def violations(error: grpc.RpcError) -> list[tuple[str, str]] | None:
    """The field violations of the status's BadRequest detail, or None without one."""
    status = rpc_status.from_call(error)
    assert status is not None
    found = [d for d in status.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)]
    if not found:
        return None
    [detail] = found
    bad_request = error_details_pb2.BadRequest()
    assert detail.Unpack(bad_request)
    return [(v.field, v.description) for v in bad_request.field_violations]


def test_every_validation_problem_is_a_field_violation_after_the_error_info(
    grpc_api: GrpcApi,
) -> None:
    request = pb.CreateSpecRequest(name=unique("broken"), type="regex-rules", content=BROKEN_RULES)
    error = grpc_api.fails("CreateSpec", request)
    info = assert_rpc_error(error, Code.INVALID_ARGUMENT, "ValidationError")  # details[0]
    problems = json.loads(info.metadata["errors"])
    assert len(problems) >= 2
    assert violations(error) == [(p["path"], p["message"]) for p in problems]
    assert len(rpc_status.from_call(error).details) == 2


def test_a_missing_reason_is_one_violation_of_reason(grpc_api: GrpcApi) -> None:
    name = unique("no-reason")
    grpc_api.create(name)
    error = grpc_api.fails("PublishSpec", pb.PublishSpecRequest(name=name))
    assert_rpc_error(error, Code.INVALID_ARGUMENT, "ValidationError")
    assert violations(error) == [("/reason", "must not be blank")]


def test_a_bad_name_is_a_violation_of_name(grpc_api: GrpcApi) -> None:
    request = pb.CreateSpecRequest(name="Not_A_Name", type="generic", content="a: 1")
    error = grpc_api.fails("CreateSpec", request)
    assert_rpc_error(error, Code.INVALID_ARGUMENT, "ValidationError")
    assert violations(error) == [("/name", "does not match the spec name pattern")]


def test_other_errors_carry_the_error_info_alone(grpc_api: GrpcApi) -> None:
    error = grpc_api.fails("GetSpec", pb.GetSpecRequest(name=unique("absent")))
    assert_rpc_error(error, Code.NOT_FOUND, "SpecNotFound")
    assert violations(error) is None
    assert len(rpc_status.from_call(error).details) == 1


def test_many_problems_fit_the_trailer_and_say_how_many_were_left_out(
    grpc_api: GrpcApi,
) -> None:
    leaves = ", ".join("{field: a, matches: '('}" for _ in range(70))
    content = f"rule: {{any: [{leaves}]}}\n"
    total = len(grpc_api.service.validate("regex-rules", content)["errors"])
    request = pb.CreateSpecRequest(name=unique("many"), type="regex-rules", content=content)
    for _ in range(5):  # a trailer over the client's limit fails only some of the time
        error = grpc_api.fails("CreateSpec", request)
        assert_rpc_error(error, Code.INVALID_ARGUMENT, "ValidationError")
        listed = violations(error)
        assert listed is not None and 1 < len(listed) < total
        *shown, (field, last) = listed
        assert (field, last) == ("", f"{total - len(shown)} more problems not listed here")
        assert all(field.startswith("/rule/any/") for field, _ in shown)
