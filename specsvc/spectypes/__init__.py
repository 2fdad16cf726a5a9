"""Spec types: JSON Schemas with semantic checks, and their registry.

See docs/behaviour.md, Spec types.
"""

from __future__ import annotations

from specsvc.spectypes.base import SpecType
from specsvc.spectypes.registry import SpecTypeRegistry

__all__ = ["SpecType", "SpecTypeRegistry"]
