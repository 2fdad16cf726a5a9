"""RFC 6901 JSON pointers, the path format of every reported problem."""

from __future__ import annotations

from collections.abc import Iterable


def escape(token: str | int) -> str:
    """One reference token: ``~`` becomes ``~0`` and ``/`` becomes ``~1``."""
    # "~" first, or the "~" introduced by "~1" would be escaped again.
    return str(token).replace("~", "~0").replace("/", "~1")


def child(path: str, token: str | int) -> str:
    """The pointer to member or item ``token`` of the node at ``path``."""
    return f"{path}/{escape(token)}"


def pointer(tokens: Iterable[str | int]) -> str:
    """The pointer made of ``tokens`` from the root (``""`` for no tokens)."""
    return "".join(f"/{escape(token)}" for token in tokens)
