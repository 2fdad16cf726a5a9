"""Hostile clients against a real ``specsvc serve``: none of them degrades it for others."""

from __future__ import annotations

import json
import resource
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hostile_inputs import DFA_HOSTILE_RULES, ab_text
from tests.support.processes import Server, running

WAIT = 30.0  # a bound that stops a broken build from hanging; never a performance bound


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running("--db", str(tmp_path / "specs.db"), "--rest-addr", "127.0.0.1:0") as serving:
        yield serving


def port_of(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def raw_request(server: Server, data: bytes, *, settle: float = 0.2) -> bytes:
    """Send ``data`` as it is and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=WAIT) as connection:
        connection.sendall(data)
        time.sleep(settle)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
    return int(status_line.split()[1]), headers, body


# --- 1. metrics labels a client can choose --------------------------------------------


def series_count(server: Server) -> int:
    _, _, body = server.request("GET", "/metrics")
    lines = body.decode().splitlines()
    return sum(1 for line in lines if line.startswith("specsvc_requests_total"))


def healthz_with(method: str) -> bytes:
    return f"{method} /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()


def test_made_up_http_methods_add_no_metric_series(server: Server) -> None:
    for method in ("GET", "X0"):
        raw_request(server, healthz_with(method), settle=0)
    series_count(server)  # the scrape's own series
    before = series_count(server)
    for n in range(1, 300):
        raw_request(server, healthz_with(f"X{n}"), settle=0)
    assert series_count(server) == before
    _, _, body = server.request("GET", "/metrics")
    assert 'method="other"' in body.decode() and 'method="X17"' not in body.decode()


# --- 2. regex-rules evaluation ----------------------------------------------------------

DFA_HOSTILE = DFA_HOSTILE_RULES


def test_an_evaluation_input_over_the_limit_is_413_and_the_limit_is_in_the_error(
    server: Server,
) -> None:
    body = {"name": "hostile", "type": "regex-rules", "content": DFA_HOSTILE}
    assert server.json("POST", "/v1/specs", body)[0] == 201
    value = ab_text(60_000, seed=1)
    status, answer = server.json("POST", "/v1/specs/hostile/evaluate", {"input": {"f": value}})
    assert status == 413 and answer["error"]["code"] == "PayloadTooLarge"
    assert answer["error"]["details"]["limit"] == 16384


def test_evaluations_past_the_limit_answer_503_with_retry_after(tmp_path: Path) -> None:
    args = ("--db", str(tmp_path / "s.db"), "--rest-addr", "127.0.0.1:0")
    with running(*args, env={"SPECSVC_MAX_CONCURRENT_EVALUATIONS": "1"}) as server:
        body = {"name": "hostile", "type": "regex-rules", "content": DFA_HOSTILE}
        assert server.json("POST", "/v1/specs", body)[0] == 201
        value = ab_text(15_000, seed=2)
        answers: list[tuple[int, str | None]] = []

        def evaluate() -> None:
            status, headers, _ = server.request(
                "POST", "/v1/specs/hostile/evaluate", {"input": {"f": value}}
            )
            answers.append((status, headers.get("Retry-After")))

        threads = [threading.Thread(target=evaluate) for _ in range(12)]
        for thread in threads:
            thread.start()
        assert server.json("GET", "/v1/specs/hostile")[0] == 200  # others are still served
        for thread in threads:
            thread.join()
    assert (200, None) in answers
    assert (503, "1") in answers
    assert {status for status, _ in answers} <= {200, 503}


# --- 3. slow clients ----------------------------------------------------------------------


def test_a_thousand_slow_connections_leave_the_server_answering(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    args = ("--db", str(tmp_path / "s.db"), "--rest-addr", "127.0.0.1:0")
    with running(*args, env={"SPECSVC_REQUEST_HEADER_TIMEOUT": "2"}) as server:
        slow = []
        for _ in range(1000):
            connection = socket.create_connection(("127.0.0.1", port_of(server)))
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
            slow.append(connection)
        try:
            for _ in range(3):
                assert server.json("GET", "/healthz")[0] == 200
            spec = {"name": "a", "type": "generic", "content": "a: 1\n"}
            assert server.json("POST", "/v1/specs", spec)[0] == 201
            # Past the header timeout the server hangs up on them.
            slow[0].settimeout(WAIT)
            assert slow[0].recv(1) == b""
        finally:
            for connection in slow:
                connection.close()


# --- 5. errors the HTTP server answers itself -------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"GARBAGE\r\n\r\n", 400, "BadRequest"),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 263_000, 431, "BadRequest"),
        (
            b"POST /v1/specs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 300000\r\n\r\n",
            413,
            "PayloadTooLarge",
        ),
    ],
    ids=["bad-request-line", "headers-too-large", "body-over-4x-the-limit"],
)
def test_the_http_servers_own_errors_have_the_json_error_shape(
    server: Server, request_bytes: bytes, status: int, code: str
) -> None:
    answered, headers, body = split_response(raw_request(server, request_bytes))
    assert answered == status
    assert headers["content-type"] == "application/json"
    error = json.loads(body)
    assert set(error) == {"error", "correlation_id"}
    assert error["error"]["code"] == code and error["error"]["details"] == {}
    assert error["correlation_id"] == headers["x-correlation-id"]


# --- 7. identities with control characters ------------------------------------------------


def test_text_logs_escape_what_a_client_put_in_a_url(tmp_path: Path) -> None:
    args = ("--db", str(tmp_path / "s.db"), "--rest-addr", "127.0.0.1:0")
    with running(*args, env={"SPECSVC_LOG_FORMAT": "text"}) as server:
        body = {"content": "a: 1\n", "reason": "r"}
        assert server.request("PUT", "/v1/specs/x%0aFORGED%20line/content", body)[0] == 404
        server.stop()
    assert not any(line.startswith("FORGED") for line in server.log)
    assert any("x\\nFORGED line" in line for line in server.log)
