"""Correlation ids: version-4 UUIDs drawn without a system call."""

from __future__ import annotations

import random
from uuid import UUID


def new_correlation_id() -> str:
    """A random UUID for tracing one request. It needs to be unique, not unguessable, so
    it comes from the process's random generator instead of os.urandom, a system call
    on every request that also lets other threads take the interpreter lock."""
    return str(UUID(int=random.getrandbits(128), version=4))
