"""gRPC answers are built field by field from the service's dicts; every kind of answer
must come out exactly as protobuf's own ``json_format.ParseDict`` makes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message

from grpc_api.convert import _jsonable, to_message
from grpc_api.protos.specsvc.v1 import spec_service_pb2 as pb
from specsvc import SpecService

RULES = (
    "rule:\n  any:\n    - {field: email, matches: '@example\\.com$'}\n"
    "    - {not: {field: age, matches: '^1'}}\n"
)


def reference(data: dict[str, Any], message_class: type[Message]) -> Message:
    return json_format.ParseDict(_jsonable(data), message_class(), ignore_unknown_fields=True)


def assert_same(data: dict[str, Any], message_class: type[Message]) -> None:
    built, expected = to_message(data, message_class), reference(data, message_class)
    assert type(built) is message_class
    assert built.SerializeToString(deterministic=True) == expected.SerializeToString(
        deterministic=True
    )
    assert built.ListFields() == expected.ListFields()  # presence of optional fields too


def answers(svc: SpecService) -> list[tuple[dict[str, Any], type[Message]]]:
    """One of every answer the servicer converts, in the states that shape them."""
    got: list[tuple[dict[str, Any], type[Message]]] = []
    got.append((svc.create_spec("rules", "regex-rules", RULES, actor="alice"), pb.Spec))
    plain = "a: 1\nb: [x, 2.5, true]\n"
    got.append((svc.create_spec("plain", "generic", plain, actor="bob"), pb.Spec))
    got.append((svc.update_spec("plain", "a: 2\n", actor="bob", reason="two"), pb.Spec))
    got.append((svc.publish_spec("plain", actor="bob", reason="ship", version=1), pb.Spec))
    got.append((svc.publish_spec("rules", actor="alice", reason="ship"), pb.Spec))
    got.append((svc.get_published("plain"), pb.PublishedSpec))
    got.append((svc.get_published("plain", as_of=datetime.now().astimezone()), pb.PublishedSpec))
    got.append((svc.deprecate_spec("rules", actor="alice", reason="old"), pb.Spec))
    got.append((svc.get_spec("plain"), pb.Spec))
    got.append((svc.list_specs(), pb.ListSpecsResponse))
    got.append((svc.list_specs(limit=1), pb.ListSpecsResponse))  # with a page token
    got.append((svc.list_versions("plain"), pb.ListVersionsResponse))
    got.append((svc.get_version("plain", 1), pb.Version))
    got.append((svc.history("plain"), pb.GetHistoryResponse))
    got.append((svc.diff("plain", 1, 2), pb.DiffVersionsResponse))
    got.append((svc.validate("generic", "a: 1\n"), pb.ValidateSpecResponse))
    got.append((svc.validate("regex-rules", "rule: {all: []}\n"), pb.ValidateSpecResponse))
    for given in ({"email": "a@example.com", "age": "12"}, {"email": "a@else.org", "age": "30"}):
        got.append((svc.evaluate("rules", given), pb.EvaluateSpecResponse))
    got.append((svc.list_events(), pb.ListEventsResponse))
    got.append((svc.list_events(after=2, limit=2), pb.ListEventsResponse))
    got += [(event, pb.Event) for event in svc.list_events()["events"]]
    got.append((svc.list_types(), pb.ListTypesResponse))  # Struct schemas: ParseDict's way
    got.append((svc.delete_spec("rules", actor="alice", reason="gone"), pb.Spec))
    return got


def test_every_answer_becomes_the_message_parse_dict_makes(file_service: SpecService) -> None:
    for data, message_class in answers(file_service):
        assert_same(data, message_class)


@pytest.mark.parametrize(
    "data",
    [
        {"name": "n", "version": 3, "unknown": "ignored", "published_version": None},
        {"name": "n", "published_version": 0, "position": 0},  # set to zero: present
        {"name": "n", "created_at": "2026-01-02T03:04:05.123456Z"},  # a time as text
        {"name": "n", "created_at": datetime(2026, 1, 2, 3, 4, 5)},  # naive: ParseDict's reading
        {"name": "n", "version": "7"},  # a number as text: ParseDict's way
    ],
)
def test_data_outside_the_plan_reads_as_parse_dict_reads_it(data: dict[str, Any]) -> None:
    assert_same(data, pb.Spec)


def test_data_parse_dict_refuses_is_refused_the_same_way() -> None:
    with pytest.raises(json_format.ParseError):
        to_message({"name": "n", "version": "seven"}, pb.Spec)
