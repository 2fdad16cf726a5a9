"""Integration tests: the service and its parts over real stores.

The service-layer scenarios run on every backend the code supports (``store`` and
``service`` are parametrized over them); ``file_store`` is the SQLite file alone, for
what only a file can show (durability, other processes, the files themselves).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from specsvc import SpecService, bootstrap
from tests.support.stores import BACKENDS, open_store, scratch_database, started_store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[bootstrap.Components]:
    with started_store(request.param, tmp_path) as started:
        yield started


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


@pytest.fixture
def url() -> Iterator[str]:
    """A new PostgreSQL database of the test's own (tests marked system)."""
    with scratch_database() as database:
        yield database
