"""The registry of spec types known to a running service."""

from __future__ import annotations

import builtins
from collections.abc import Iterable

from specsvc.errors import TypeNotFound
from specsvc.spectypes import sources
from specsvc.spectypes.base import SpecType


class SpecTypeRegistry:
    """Spec types by name; names are unique and built-ins cannot be replaced."""

    def __init__(self, spec_types: Iterable[SpecType] = ()) -> None:
        self._types: dict[str, SpecType] = {}
        for spec_type in spec_types:
            if spec_type.name in self._types:
                raise ValueError(f"spec type {spec_type.name!r} is defined more than once")
            self._types[spec_type.name] = spec_type

    @classmethod
    def load(
        cls, types_dir: str | None = None, *, use_entry_points: bool = True
    ) -> SpecTypeRegistry:
        """The built-ins, then schema files in ``types_dir``, then entry-point plugins."""
        builtin = sources.builtin_types()
        custom = sources.directory_types(types_dir) if types_dir is not None else []
        if use_entry_points:
            custom += sources.entry_point_types()
        for spec_type in custom:
            if any(spec_type.name == known.name for known in builtin):
                raise ValueError(f"spec type {spec_type.name!r} is built in and cannot be replaced")
        return cls(builtin + custom)

    def get(self, name: str) -> SpecType:
        """The type called ``name``; ``TypeNotFound`` when there is none."""
        if not isinstance(name, str):  # nor a Python repr of it in the message
            raise TypeNotFound("no such spec type: a type name is a string")
        try:
            return self._types[name]
        except KeyError:
            raise TypeNotFound(f"unknown spec type {name!r}", details={"type": name}) from None

    def names(self) -> builtins.list[str]:
        """Every type name, sorted."""
        return sorted(self._types)

    def list(self) -> builtins.list[SpecType]:
        """Every type, sorted by name."""
        return [self._types[name] for name in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._types
