"""What the operator tasks share: the store they work on, and progress reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from specsvc.application import SpecApplication
from specsvc.projections import SpecProjections
from specsvc.service import SpecService

# (phase, done, total): called as a long operation advances.
Progress = Callable[[str, int, int], None]


def no_progress(phase: str, done: int, total: int) -> None:
    """The default ``Progress``: report nothing."""


class OpenStore(Protocol):
    """A started store: what the composition root hands an operator task."""

    application: SpecApplication
    projections: SpecProjections
    service: SpecService
