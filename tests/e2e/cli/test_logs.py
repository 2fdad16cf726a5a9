"""Structured logs: one JSON line per request, RPC and command, readable on a terminal."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rest_api import create_app
from specsvc import SpecService
from specsvc.errors import InvalidStateTransition
from specsvc.observability.logs import JsonFormatter, TextFormatter
from tests.support.processes import running


def records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == name]


def test_each_command_logs_who_what_and_the_outcome(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with SpecService.open() as svc:
        svc.create_spec("demo", "generic", "a: 1\n", actor="alice", correlation_id="c-1")
        with pytest.raises(InvalidStateTransition):
            svc.deprecate_spec("demo", actor="bob", reason="too early", correlation_id="c-2")
    created, refused = records(caplog, "specsvc.commands")
    assert (created.command, created.spec, created.actor, created.outcome) == (
        "create",
        "demo",
        "alice",
        "ok",
    )
    assert created.correlation_id == "c-1" and created.position == 1
    assert (refused.command, refused.outcome, refused.position) == (
        "deprecate",
        "InvalidStateTransition",
        None,
    )


def test_each_request_logs_route_status_and_duration(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with SpecService.open() as svc:
        client = create_app(svc).test_client()
        client.get("/v1/specs/missing", headers={"X-Correlation-ID": "req-9"})
    (line,) = records(caplog, "specsvc.access")
    assert (line.route, line.method, line.status, line.correlation_id, line.actor) == (
        "/v1/specs/<name>",
        "GET",
        404,
        "req-9",
        "anonymous",
    )
    assert line.duration_ms >= 0


def test_json_lines_carry_the_structured_fields() -> None:
    record = logging.LogRecord("specsvc.access", logging.INFO, __file__, 1, "request", None, None)
    record.route, record.status, record.correlation_id = "/v1/specs", 200, "abc"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "request" and line["level"] == "info"
    assert (line["route"], line["status"], line["correlation_id"]) == ("/v1/specs", 200, "abc")
    assert line["time"].endswith("Z")
    assert "route=/v1/specs" in TextFormatter().format(record)


def test_serve_writes_json_lines_for_requests_and_rpcs(tmp_path: Path) -> None:
    args = ("--db", str(tmp_path / "s.db"), "--rest-addr", "127.0.0.1:0", "--log-format", "json")
    with running(*args) as server:
        server.json("POST", "/v1/specs", {"name": "x", "type": "generic", "content": "a: 1\n"})
        server.stop()
    lines = [json.loads(line) for line in server.log if line.startswith("{")]
    assert lines and all("time" in line and "level" in line for line in lines)
    request = next(line for line in lines if line["message"] == "request")
    command = next(line for line in lines if line["message"] == "command")
    assert (request["route"], request["status"]) == ("/v1/specs", 201)
    assert command["correlation_id"] == request["correlation_id"]
    assert command["actor"] == "anonymous" and command["outcome"] == "ok"
