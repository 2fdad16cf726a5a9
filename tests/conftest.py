"""Shared fixtures: the same scenarios run on every persistence setting the code supports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from specsvc import SpecService
from specsvc.config import Settings

PERSISTENCE_SETTINGS = ["memory", "sqlite-file"]

RULES = "rule: {field: email, matches: '@example\\.com$'}\n"


def open_service(kind: str, tmp_path: Path, **overrides: object) -> SpecService:
    db = None if kind == "memory" else str(tmp_path / "specs.db")
    return SpecService.open(settings=Settings(db=db, **overrides))  # type: ignore[arg-type]


@pytest.fixture(params=PERSISTENCE_SETTINGS)
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SpecService]:
    svc = open_service(request.param, tmp_path)
    yield svc
    svc.close()


@pytest.fixture
def file_service(tmp_path: Path) -> Iterator[SpecService]:
    svc = open_service("sqlite-file", tmp_path)
    yield svc
    svc.close()


def make_spec(svc: SpecService, name: str = "demo", content: str = "a: 1\n", **kw: object) -> dict:
    return svc.create_spec(name, kw.pop("type", "generic"), content, actor="alice", **kw)


def event_count(svc: SpecService) -> int:
    return len(svc.list_events(limit=500)["events"])
