"""Shared fixtures: the same scenarios run on every persistence setting the code supports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from specsvc import SpecService, bootstrap
from specsvc.config import Settings

PERSISTENCE_SETTINGS = ["memory", "sqlite-file"]

RULES = "rule: {field: email, matches: '@example\\.com$'}\n"


def open_store(kind: str, tmp_path: Path, **overrides: object) -> bootstrap.Components:
    """A started store and its parts, through the composition root."""
    db = None if kind == "memory" else str(tmp_path / "specs.db")
    return bootstrap.start(Settings(db=db, **overrides))  # type: ignore[arg-type]


def open_service(kind: str, tmp_path: Path, **overrides: object) -> SpecService:
    return open_store(kind, tmp_path, **overrides).service


@pytest.fixture(params=PERSISTENCE_SETTINGS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[bootstrap.Components]:
    started = open_store(request.param, tmp_path)
    yield started
    started.service.close()


@pytest.fixture
def service(store: bootstrap.Components) -> SpecService:
    return store.service


@pytest.fixture
def file_store(tmp_path: Path) -> Iterator[bootstrap.Components]:
    started = open_store("sqlite-file", tmp_path)
    yield started
    started.service.close()


@pytest.fixture
def file_service(file_store: bootstrap.Components) -> SpecService:
    return file_store.service


def make_spec(svc: SpecService, name: str = "demo", content: str = "a: 1\n", **kw: object) -> dict:
    return svc.create_spec(name, kw.pop("type", "generic"), content, actor="alice", **kw)


def event_count(svc: SpecService) -> int:
    return len(svc.list_events(limit=500)["events"])
