"""Histories written into a store before a test reads them back, from a copy or a rebuild."""

from __future__ import annotations

from specsvc import SpecService

RULES = "rule: {field: email, matches: '@example\\.com$'}\n"


def lifecycle(svc: SpecService) -> None:
    """Every kind of event: updates, publishes, a rollback, deprecation, reinstatement,
    deletions (one never published), a write under an idempotency key."""
    svc.create_spec("rules", "regex-rules", RULES, actor="alice", reason="first")
    svc.create_spec("counter", "generic", "n: 1\n", actor="bob", correlation_id="req-0")
    for n in range(2, 14):  # a snapshot at the 10th event
        svc.update_spec("counter", f"n: {n}\n", actor="bob", reason=f"v{n}")
    svc.publish_spec("counter", actor="carol", reason="ship")
    svc.publish_spec("rules", actor="carol", reason="reviewed", correlation_id="req-1")
    svc.update_spec("rules", RULES + "# more\n", actor="alice", reason="comment")
    svc.publish_spec("rules", actor="carol", reason="roll forward")
    svc.publish_spec("rules", actor="carol", reason="roll back", version=1)
    svc.deprecate_spec("counter", actor="carol", reason="superseded")
    svc.publish_spec("counter", actor="carol", reason="reinstated", version=12)
    svc.deprecate_spec("counter", actor="carol", reason="for good")
    svc.delete_spec("counter", actor="dave", reason="retired")
    svc.create_spec("gone", "generic", "a: 1\n", actor="dave")
    svc.delete_spec("gone", actor="dave", reason="unused")
    svc.create_spec("draft", "generic", "a: 1\n", actor="erin", reason="later")
    svc.update_spec("draft", "a: 0\n", actor="erin", reason="retried", idempotency_key="k-1")
