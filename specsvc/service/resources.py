"""Plain-dict representations, shaped like the REST JSON (docs/behaviour.md, REST API)."""

from __future__ import annotations

from typing import Any

from specsvc.content import sha256_hex
from specsvc.domainmodel import Spec


class CommandResult(dict[str, Any]):
    """A command's answer: the spec resource with its ``position``.

    A plain dict to its callers; ``changed`` also tells whether the command recorded
    an event, False when it had nothing to do (docs/behaviour.md, Lifecycle).
    """

    def __init__(self, resource: dict[str, Any], *, changed: bool):
        super().__init__(resource)
        self.changed = changed


def spec_resource(spec: Spec) -> dict[str, Any]:
    return {
        "id": str(spec.id),
        "name": spec.name,
        "type": spec.type,
        "state": spec.state,
        "version": spec.content_version,
        "published_version": spec.published_version,
        "content": spec.content,
        "content_sha256": sha256_hex(spec.content),
        "has_unpublished_changes": spec.has_unpublished_changes,
        "created_at": spec.created_on,
        "created_by": spec.created_by,
        "updated_at": spec.modified_on,
        "updated_by": spec.updated_by,
        "revision": spec.version,
    }


def summary_resource(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "type": row["type"],
        "state": row["state"],
        "version": row["version"],
        "published_version": row["published_version"],
        "content_sha256": row["content_sha256"],
        "has_unpublished_changes": row["version"] != row["published_version"],
        "created_at": row["created_at"],
        "created_by": row["created_by"],
        "updated_at": row["updated_at"],
        "updated_by": row["updated_by"],
        "revision": row["revision"],
    }


def published_resource(
    spec_name: str, spec_type: str, version: int, content: str, state: str, published_at: Any
) -> dict[str, Any]:
    return {
        "name": spec_name,
        "type": spec_type,
        "version": version,
        "content": content,
        "state": state,
        "published_at": published_at,
    }


def version_resource(row: dict[str, Any], *, with_content: bool) -> dict[str, Any]:
    resource = {
        "version": row["version"],
        "created_at": row["created_at"],
        "created_by": row["created_by"],
        "reason": row["reason"],
        "content_sha256": row["content_sha256"],
        "size": row["size"],
    }
    if with_content:
        resource["content"] = row["content"]
    return resource
