"""The store commands on a PostgreSQL store (``--database-url``)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from specsvc import bootstrap
from specsvc.cli.main import main
from specsvc.config import Settings
from tests.support.stores import make_spec, running_worker, scratch_database

pytestmark = pytest.mark.system


@pytest.fixture
def url() -> Iterator[str]:
    with scratch_database() as database:
        with running_worker(Settings(database_url=database)):
            started = bootstrap.start(Settings(database_url=database))
            try:
                make_spec(started.service, "alpha")
                make_spec(started.service, "beta")
            finally:
                started.service.close()
        yield database


def test_status_reports_the_servers_durability_and_the_worker(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--database-url", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("(fsync=on, synchronous_commit=on)") and url in lines[0]
    assert "specs: 2" in lines
    assert main(["status", "--json", "--database-url", url]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["projections"]["projector"] == "worker"
    assert report["projections"]["worker_running"] is False
    assert report["storage"]["events"]["fsync"] == "on"


def test_verify_export_and_rebuild_work_on_postgres(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "--database-url", url]) == 0
    assert "no differences" in capsys.readouterr().out
    assert main(["export", "--database-url", url]) == 0
    exported = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [event["position"] for event in exported] == list(range(1, len(exported) + 1))
    assert main(["rebuild-projections", "--database-url", url]) == 0
    assert "tracking position" in capsys.readouterr().out
    assert main(["verify", "--database-url", url]) == 0


def test_a_database_without_a_store_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with scratch_database() as empty:
        assert main(["status", "--database-url", empty]) == 4
        assert "StoreNotFound" in capsys.readouterr().err
