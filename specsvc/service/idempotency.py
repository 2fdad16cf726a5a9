"""Idempotency keys: a retried write answers as it first did, and writes nothing again.

See docs/behaviour.md, Idempotent retries. A key belongs to the principal that sent it;
the request it answered is fingerprinted, so the same key with another request is
``IdempotencyKeyReused``. The answer is kept in the event store, in the transaction
that records the command's events, so it survives a crash exactly when they do.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from specsvc.application import SpecApplication
from specsvc.domainmodel import Spec
from specsvc.errors import BadRequest, IdempotencyKeyReused
from specsvc.persistence.interfaces import RememberedAnswer
from specsvc.persistence.sealing import PLAIN, ContentSealer
from specsvc.service.resources import CommandResult, spec_resource

KEY = re.compile(r"^[\x20-\x7e]{1,128}$")
_TIMES = ("created_at", "updated_at")


def checked_key(key: Any) -> str:
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise BadRequest(
            "an idempotency key is 1-128 printable ASCII characters",
            details={"field": "idempotency_key"},
        )
    return key


@dataclass(frozen=True)
class Idempotency:
    """One command's key, the principal it belongs to, and the request it stands for."""

    key: str
    principal: str
    request_sha256: str
    now: datetime
    retention: timedelta
    # Answers hold spec content: an encrypted store keeps them sealed with its key.
    sealer: ContentSealer = PLAIN

    @classmethod
    def of(
        cls,
        key: str,
        principal: str,
        command: str,
        arguments: dict[str, Any],
        retention: float,
        sealer: ContentSealer = PLAIN,
    ) -> Idempotency:
        request = json.dumps(
            {"command": command, "arguments": arguments}, sort_keys=True, default=str
        )
        digest = hashlib.sha256(request.encode("utf-8")).hexdigest()
        now = datetime.now(UTC)
        return cls(checked_key(key), principal, digest, now, timedelta(hours=retention), sealer)

    def recalled(self, app: SpecApplication) -> CommandResult | None:
        """The answer kept under this key, if any; IdempotencyKeyReused for another request."""
        kept = app.timeline.recall(self.principal, self.key, self.now - self.retention)
        if kept is None:
            return None
        if kept.request_sha256 != self.request_sha256:
            raise IdempotencyKeyReused(
                "this idempotency key was used for a different request; use a new key",
                details={"idempotency_key": self.key},
            )
        answer = json.loads(self.sealer.open(kept.answer))
        spec = answer["spec"]
        for field in _TIMES:
            spec[field] = datetime.fromisoformat(spec[field])
        return CommandResult({**spec, "position": kept.position}, changed=answer["changed"])

    def remember(self, spec: Spec, position: int | None, changed: bool) -> RememberedAnswer:
        answer = json.dumps(
            {"spec": spec_resource(spec), "changed": changed},
            default=lambda moment: moment.astimezone(UTC).isoformat(),
            ensure_ascii=False,
        )
        return RememberedAnswer(
            self.principal,
            self.key,
            self.request_sha256,
            self.sealer.seal(answer),
            self.now,
            self.now - self.retention,
            position,
        )
