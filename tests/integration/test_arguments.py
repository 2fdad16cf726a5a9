"""Python API arguments of the wrong Python type: the documented error code, and a message
that says what is wanted without echoing a Python repr of what was given."""

from __future__ import annotations

from typing import Any

import pytest

from specsvc import SpecService
from specsvc.errors import SpecNotFound, SpecServiceError, TypeNotFound, ValidationError

NOT_STRINGS = [None, 7, ["generic"], {"a": 1}]
ACTOR = {"actor": "bob", "reason": "because"}


def raised_by(call: Any, error: type[SpecServiceError]) -> SpecServiceError:
    with pytest.raises(error) as raised:
        call()
    message = raised.value.message
    assert "None" not in message and "'" not in message and "[" not in message, message
    return raised.value


@pytest.mark.parametrize("value", NOT_STRINGS, ids=repr)
def test_a_type_that_is_not_a_string_is_a_validation_error_saying_so(
    service: SpecService, value: Any
) -> None:
    for call in (
        lambda: service.create_spec("typed", value, "a: 1\n", actor="bob"),
        lambda: service.validate(value, "a: 1\n"),
    ):
        error = raised_by(call, ValidationError)
        assert error.message == "type must be a string naming a spec type"
        assert error.details["errors"][0]["path"] == "/type"


@pytest.mark.parametrize("value", NOT_STRINGS, ids=repr)
def test_a_type_to_look_up_that_is_not_a_string_is_not_found_saying_so(
    service: SpecService, value: Any
) -> None:
    error = raised_by(lambda: service.get_type(value), TypeNotFound)
    assert error.message == "no such spec type: a type name is a string"
    assert error.details == {}


@pytest.mark.parametrize("value", NOT_STRINGS, ids=repr)
def test_a_name_to_look_up_that_is_not_a_string_is_not_found_saying_so(
    service: SpecService, value: Any
) -> None:
    for call in (
        lambda: service.get_spec(value),
        lambda: service.history(value),
        lambda: service.evaluate(value, {}),
        lambda: service.update_spec(value, "a: 2\n", **ACTOR),
        lambda: service.publish_spec(value, **ACTOR),
    ):
        error = raised_by(call, SpecNotFound)
        assert error.message == "no such spec: a spec name is a string"
        assert error.details == {}


def test_a_name_that_no_spec_can_have_is_still_named_in_its_error(service: SpecService) -> None:
    with pytest.raises(SpecNotFound) as raised:
        service.get_spec("UPPER")
    assert raised.value.message == "spec 'UPPER' not found"
    assert raised.value.details == {"name": "UPPER"}


def test_an_unknown_type_name_is_still_named_in_its_error(service: SpecService) -> None:
    with pytest.raises(ValidationError) as raised:
        service.create_spec("typed", "no-such-type", "a: 1\n", actor="bob")
    assert raised.value.message == "unknown spec type 'no-such-type'"
