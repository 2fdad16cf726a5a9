"""Roles, the actions each one grants, and the check every adapter makes."""

from __future__ import annotations

from dataclasses import dataclass

from specsvc.errors import PermissionDenied

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
