"""Roles, the actions each one grants, and the check every adapter makes."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from specsvc.errors import PermissionDenied

MAX_PRINCIPAL = 256

ROLES = ("reader", "author", "publisher", "admin")
ACTIONS = ("read", "create", "update", "publish", "deprecate", "delete", "operate")

# docs/behaviour.md, Authentication and roles: every write role includes reader; admin
# may do everything.
GRANTS: dict[str, frozenset[str]] = {
    "reader": frozenset({"read"}),
    "author": frozenset({"read", "create", "update"}),
    "publisher": frozenset({"read", "publish", "deprecate"}),
    "admin": frozenset(ACTIONS),
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the name recorded as ``actor`` in events, and its roles."""

    name: str
    roles: frozenset[str]


ANONYMOUS = Principal("anonymous", frozenset(ROLES))


def principal_problem(name: object) -> str | None:
    """Why ``name`` cannot be a principal, or None.

    A principal is recorded as the actor of events and printed in logs, so it may not
    hold control, format (bidi overrides, zero-width) or line-separator characters: they
    would let one identity forge log lines or pass itself off as another.
    """
    if not isinstance(name, str) or not name.strip():
        return "must be a non-empty string"
    if len(name) > MAX_PRINCIPAL:
        return f"must be at most {MAX_PRINCIPAL} characters"
    for character in name:
        category = unicodedata.category(character)
        if category[0] == "C" or category in ("Zl", "Zp"):
            return f"must not contain the character U+{ord(character):04X} ({category})"
    return None


def same_person(first: str, second: str) -> bool:
    """Do two principal names stand for one person? (docs/behaviour.md, Authentication
    and roles): compared after NFKC normalisation and case folding, so ``AP``, ``ap``
    and ``ap`` written in full-width letters are one person."""
    return canonical(first) == canonical(second)


def canonical(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def authorize(principal: Principal, action: str) -> None:
    """Raise PermissionDenied unless one of the principal's roles grants ``action``."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {ACTIONS}")
    if any(action in GRANTS.get(role, frozenset()) for role in principal.roles):
        return
    raise PermissionDenied(
        f"principal {principal.name!r} may not {action}",
        details={"action": action, "roles": sorted(principal.roles)},
    )


def parse_roles(value: object) -> frozenset[str]:
    """A non-empty list of known role names, or ValueError saying what is wrong."""
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"roles must be a non-empty list of {list(ROLES)}")
    unknown = [role for role in value if role not in ROLES]
    if unknown:
        raise ValueError(f"unknown roles {unknown!r}; expected some of {list(ROLES)}")
    return frozenset(value)
