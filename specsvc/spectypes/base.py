"""A spec type: a JSON Schema (draft 2020-12) plus optional semantic checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs
import referencing
import referencing.exceptions
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaViolation

from specsvc.content.jsonpointer import pointer

Problem = dict[str, Any]
Check = Callable[[dict[str, Any]], list[Problem]]
Evaluate = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]

_MAX_MESSAGE = 200


@dataclass(frozen=True)
class SpecType:
    """A named schema; ``check`` runs only on data that the schema accepts.

    ``compiled`` types (the built-in ones, whose verdicts a differential test holds equal)
    first ask a compiled validator, which accepts valid content in microseconds; content
    it does not accept goes to ``jsonschema``, which decides and words the problems."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    check: Check | None = None
    evaluate: Evaluate | None = None
    compiled: bool = False
    _validator: Draft202012Validator = field(init=False, repr=False, compare=False)
    _fast: Any = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        Draft202012Validator.check_schema(self.schema)
        # The empty registry means a $ref is never fetched from network or disk.
        validator = Draft202012Validator(
            self.schema,
            registry=referencing.Registry(),
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        object.__setattr__(self, "_validator", validator)
        if self.compiled:
            fast = jsonschema_rs.Draft202012Validator(
                self.schema, validate_formats=True, retriever=_never_retrieve
            )
            object.__setattr__(self, "_fast", fast)

    def validate(self, data: Any) -> list[Problem]:
        """Every problem with ``data`` as ``{"path", "message"}``, sorted by path."""
        problems = [] if self.accepts_fast(data) else _schema_problems(self._validator, data)
        if not problems and self.check is not None:
            problems = self.check(data)
        return sorted(problems, key=lambda problem: (problem["path"], problem["message"]))

    def accepts_fast(self, data: Any) -> bool:
        """Whether the compiled validator accepts ``data`` (False: not compiled, or
        ``data`` is invalid, or holds what it cannot take, such as huge integers)."""
        if self._fast is None:
            return False
        try:
            return bool(self._fast.is_valid(data))
        except Exception:  # ValueError, OverflowError...: jsonschema decides instead
            return False

    def to_dict(self) -> dict[str, Any]:
        """The type as the API shows it."""
        return {"name": self.name, "description": self.description, "schema": self.schema}


def _never_retrieve(uri: str) -> Any:
    # As with the empty registry above: a $ref is never fetched from network or disk.
    raise ValueError(f"{uri} is not retrieved")


def _schema_problems(validator: Draft202012Validator, data: Any) -> list[Problem]:
    problems: list[Problem] = []
    try:
        for error in validator.iter_errors(data):
            problems.append({"path": pointer(error.absolute_path), "message": _message(error)})
    except referencing.exceptions.Unresolvable as exc:
        message = f"the type's schema refers to {exc.ref!r}, which cannot be resolved"
        problems.append({"path": "", "message": message})
    except RecursionError:
        problems.append({"path": "", "message": "the content is nested too deeply to validate"})
    return problems


def _message(error: SchemaViolation) -> str:
    keys = _one_of_keys(error)
    if keys:
        return "must have exactly one of the keys: " + ", ".join(keys)
    message = error.message
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def _one_of_keys(error: SchemaViolation) -> list[str]:
    # Schemas name their mutually exclusive keys in x-one-of-keys for a clear message.
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator in ("minProperties", "maxProperties"):
        return list(schema.get("x-one-of-keys", []))
    return _required_alternatives(error)


def _required_alternatives(error: SchemaViolation) -> list[str]:
    # jsonschema's oneOf message repeats the whole instance; when each alternative
    # just requires one key (a discriminator), naming the keys says it better.
    alternatives = error.validator_value
    if error.validator != "oneOf" or not isinstance(alternatives, list):
        return []
    keys = []
    for alternative in alternatives:
        if not (isinstance(alternative, dict) and alternative.keys() == {"required"}):
            return []
        required = alternative["required"]
        if not (isinstance(required, list) and len(required) == 1):
            return []
        keys.append(str(required[0]))
    return keys
