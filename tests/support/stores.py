"""Stores for tests, started through the composition root as every entry point does."""

from __future__ import annotations

from pathlib import Path

from specsvc import SpecService, bootstrap
from specsvc.config import Settings

# Every persistence setting the code supports; the service-layer scenarios run on each.
BACKENDS = ["memory", "sqlite-file"]
# The one backend the adapter suites run on: what they test is the adapter, not the store.
ADAPTER_BACKEND = "sqlite-file"

RULES = "rule: {field: email, matches: '@example\\.com$'}\n"


def open_store(kind: str, folder: Path, **overrides: object) -> bootstrap.Components:
    """A started store and its parts."""
    db = None if kind == "memory" else str(folder / "specs.db")
    return bootstrap.start(Settings(db=db, **overrides))  # type: ignore[arg-type]


def open_service(kind: str, folder: Path, **overrides: object) -> SpecService:
    return open_store(kind, folder, **overrides).service


def make_spec(svc: SpecService, name: str = "demo", content: str = "a: 1\n", **kw: object) -> dict:
    return svc.create_spec(name, kw.pop("type", "generic"), content, actor="alice", **kw)


def event_count(svc: SpecService) -> int:
    """The size of the global audit log, paging 500 at a time."""
    total, after = 0, 0
    while True:
        page = svc.list_events(after=after, limit=500)
        total += len(page["events"])
        if len(page["events"]) < 500:
            return total
        after = page["next_after"]
