"""The programs in examples/ run as a newcomer would run them, against a real server."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from specsvc import SpecService
from specsvc.config import Settings
from specsvc.spectypes import SpecTypeRegistry
from tests.support import ROOT

EXAMPLES = ROOT / "examples"
TYPES_DIR = EXAMPLES / "custom-types"
BUILT_IN = {"generic", "regex-rules", "approval-workflow"}
TOKEN = "sst_examples-test-token"
WAIT = 60.0  # only to stop a broken build from hanging
# Addresses end at the first character that is not part of one, whatever the log format.
REST_LISTENING = re.compile(r"REST API listening on (http://[\w.:\[\]-]+)")
GRPC_LISTENING = re.compile(r"gRPC API listening on ([\w.:\[\]-]+:\d+)")
SAMPLES = [
    ("generic", EXAMPLES / "specs" / "generic.yaml"),
    ("regex-rules", EXAMPLES / "specs" / "regex-rules.yaml"),
    ("approval-workflow", EXAMPLES / "specs" / "approval-workflow.yaml"),
    ("feature-flag", EXAMPLES / "specs" / "feature-flag.yaml"),
]


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    grpc_addr: str

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(self.url + path, method=method)
        request.add_header("Authorization", f"Bearer {TOKEN}")
        if body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def create_and_publish(self, name: str, content: str = "a: 1\n") -> None:
        body = {"name": name, "type": "generic", "content": content}
        assert self.call("POST", "/v1/specs", body)[0] == 201
        assert self.call("POST", f"/v1/specs/{name}/publish", {"reason": "go"})[0] == 200


def serve(folder: Path, rest_addr: str = "127.0.0.1:0", grpc_addr: str = "127.0.0.1:0") -> Served:
    """``specsvc serve`` with a token and the example types; its log goes to a file."""
    tokens = folder / "tokens.yaml"
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    tokens.write_text(f"tokens: [{{principal: eve, sha256: {digest}, roles: [admin]}}]\n")
    log_path = folder / f"serve-{time.monotonic_ns()}.log"
    args = ["--db", str(folder / "specs.db"), "--auth-tokens-file", str(tokens)]
    args += ["--rest-addr", rest_addr, "--grpc-addr", grpc_addr]
    env = {**os.environ, "SPECSVC_TYPES_DIR": str(TYPES_DIR)}
    with log_path.open("wb") as log:  # a file, so a chatty server never blocks on a pipe
        command = [sys.executable, "-m", "specsvc.cli", "serve", *args]
        process = subprocess.Popen(command, stdout=log, stderr=log, env=env, cwd=ROOT)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and process.poll() is None:
        text = log_path.read_text(errors="replace")
        rest, grpc_ = REST_LISTENING.search(text), GRPC_LISTENING.search(text)
        if rest and grpc_:
            return Served(process, rest.group(1), grpc_.group(1))
        time.sleep(0.05)
    process.kill()
    raise AssertionError("server did not start:\n" + log_path.read_text(errors="replace"))


def stop(served: Served) -> None:
    served.process.send_signal(signal.SIGTERM)
    try:
        served.process.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = serve(tmp_path_factory.mktemp("examples"))
    yield served
    stop(served)


def run(example: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(EXAMPLES / example), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=WAIT, cwd=ROOT)


def succeeds(example: str, *args: str) -> str:
    result = run(example, *args)
    assert result.returncode == 0, f"{example} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


class Lines:
    """A running example's stdout, read line by line with a deadline."""

    def __init__(self, process: subprocess.Popen[str]):
        self.process = process
        self.seen: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return
        raise AssertionError(f"no {text!r} in output:\n" + "\n".join(self.seen))

    def finish(self) -> str:
        try:
            code = self.process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        self._reader.join(timeout=WAIT)  # it ends at end of file, after the last line
        while not self._lines.empty():
            self.seen.append(self._lines.get())
        output = "\n".join(self.seen)
        assert code == 0, f"exit {code}:\n{output}"
        return output


def start_consumer(served: Served, *names: str) -> Lines:
    args = ["--addr", served.grpc_addr, "--token", TOKEN, "--names", ",".join(names)]
    command = [sys.executable, str(EXAMPLES / "consumer_watch.py"), *args, "--stop-after", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    consumer = Lines(process)
    consumer.wait_for("watching after position")
    return consumer


@dataclass
class Relayed:
    method: str
    path: str
    key: str | None
    fault: str | None


class FaultyProxy:
    """A tiny HTTP proxy in front of a real server that loses answers on purpose.

    Each write (a request with an Idempotency-Key) takes the next of ``faults``:
    "unavailable" answers 503 with Retry-After: 1 and forwards nothing; "drop" forwards
    the request, so the server stores it, then closes the connection without answering;
    None (or no fault left) relays the answer.
    """

    def __init__(self, upstream: str, faults: list[str | None]):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.faults = faults
        self.relayed: list[Relayed] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.relay(self)

            do_POST = do_PUT = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FaultyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def relay(self, handler: BaseHTTPRequestHandler) -> None:
        key = handler.headers.get("Idempotency-Key")
        fault = self.faults.pop(0) if key is not None and self.faults else None
        self.relayed.append(Relayed(handler.command, handler.path, key, fault))
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        if fault == "unavailable":
            handler.send_response(503)
            handler.send_header("Retry-After", "1")
            handler.send_header("Content-Type", "application/json")
            answer = b'{"error": {"code": "Unavailable", "message": "busy", "details": {}}}'
            handler.send_header("Content-Length", str(len(answer)))
            handler.end_headers()
            handler.wfile.write(answer)
            return
        upstream = http.client.HTTPConnection(self.upstream.netloc, timeout=WAIT)
        forwarded = ("Content-Type", "Authorization", "Idempotency-Key", "Accept")
        headers = {name: handler.headers[name] for name in forwarded if name in handler.headers}
        upstream.request(handler.command, handler.path, body or None, headers)
        response = upstream.getresponse()
        answer = response.read()
        upstream.close()
        if fault == "drop":  # stored upstream; the client never hears of it
            handler.close_connection = True
            return
        handler.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "server", "date"):
                handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(answer)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(("type_name", "path"), SAMPLES, ids=[t for t, _ in SAMPLES])
def test_every_sample_spec_is_valid_for_its_type(type_name: str, path: Path) -> None:
    with SpecService.open(settings=Settings(types_dir=str(TYPES_DIR))) as svc:
        assert svc.validate(type_name, path.read_text("utf-8")) == {"valid": True, "errors": []}


def test_the_custom_type_rejects_a_rollout_over_100_percent() -> None:
    bad = "enabled: true\nrollout_percent: 150\nowners: [ann]\n"
    with SpecService.open(settings=Settings(types_dir=str(TYPES_DIR))) as svc:
        result = svc.validate("feature-flag", bad)
    assert [problem["path"] for problem in result["errors"]] == ["/rollout_percent"]


def test_a_server_with_the_example_types_dir_accepts_the_custom_sample(server: Served) -> None:
    content = (EXAMPLES / "specs" / "feature-flag.yaml").read_text("utf-8")
    body = {"name": "checkout-redesign", "type": "feature-flag", "content": content}
    status, spec = server.call("POST", "/v1/specs", body)
    assert (status, spec["type"], spec["content"]) == (201, "feature-flag", content)


def test_python_api_example_runs_without_a_server(tmp_path: Path) -> None:
    for args in ((), ("--db", str(tmp_path / "specs.db"))):
        output = succeeds("python_api.py", *args)
        assert "published v2, state published" in output
        assert "evaluate ann@acme.io: True (v2)" in output
        assert "evaluate bot@mailinator.com: False (v2)" in output
        assert "SpecStateChanged by bob: reviewed by bob" in output
        assert re.search(r"as of [\d:.]+: v1 draft", output), output


def test_rest_client_example_runs_twice_against_one_server(server: Served) -> None:
    for _ in range(2):
        output = succeeds("rest_client.py", "--url", server.url, "--token", TOKEN)
        assert "expected error: 409 SpecAlreadyExists" in output
        assert "published YAML starts with: # A `regex-rules` spec" in output
        assert "evaluate ann@acme.io: True (v1)" in output
        assert "evaluate bot@mailinator.com: False (v1)" in output
        assert "ours listed: True" in output
        assert "SpecStateChanged by eve: reviewed" in output


def test_rest_client_example_reports_error_bodies_and_an_absent_server(server: Served) -> None:
    unauthenticated = run("rest_client.py", "--url", server.url)
    assert unauthenticated.returncode == 1
    assert "HTTP 401 Unauthenticated" in unauthenticated.stderr
    absent = run("rest_client.py", "--url", f"http://127.0.0.1:{free_port()}")
    assert absent.returncode == 2
    assert "cannot reach" in absent.stderr


def test_retrying_client_example_runs_against_a_server(server: Served) -> None:
    output = succeeds("retrying_client.py", "--url", server.url, "--token", TOKEN)
    assert "created retry-demo-" in output
    assert "nothing was written twice" in output
    assert "the same key for another request: 422 IdempotencyKeyReused" in output
    assert "published v2" in output
    assert "retrying" not in output and "same key again" not in output


def test_retrying_client_example_stores_each_retried_write_once(server: Served) -> None:
    # The create is first refused with 503, then stored with its answer lost, then
    # answered; the update is stored with its answer lost, then answered.
    faults: list[str | None] = ["unavailable", "drop", None, "drop"]
    with FaultyProxy(server.url, faults) as proxy:
        args = ("--url", proxy.url, "--token", TOKEN, "--name", "retried-once")
        output = succeeds("retrying_client.py", *args)
    assert "503 Unavailable; retrying in 1.0s" in output
    assert output.count("no answer (RemoteDisconnected); same key again") == 2

    writes = [r for r in proxy.relayed if r.key is not None]
    creates = [r for r in writes if r.path == "/v1/specs"]
    assert [r.fault for r in creates] == ["unavailable", "drop", None]
    updates = [r for r in writes if r.path.endswith("/content")]
    # Lost, retried, repeated on purpose, and reused for another request: one key.
    assert [r.fault for r in updates] == ["drop", None, None, None]
    for attempts in (creates, updates):
        assert len({r.key for r in attempts}) == 1, "a retry must send the same key"

    # Stored once each: one creation, one update (no version 3), one publish.
    status, history = server.call("GET", "/v1/specs/retried-once/history")
    assert status == 200
    events = [(e["event"], e["reason"], e["version"]) for e in history["events"]]
    assert events == [
        ("SpecCreated", "first draft", 1),
        ("SpecUpdated", "more retries", 2),
        ("SpecStateChanged", "reviewed", 2),
    ]
    created, updated, published = (e["position"] for e in history["events"])
    # The answers the client finally got are those of the attempts that were stored.
    assert f"created retried-once v1 at position {created}" in output
    assert f"updated retried-once to v2 at position {updated}" in output
    assert f"v2 at position {updated}, the first answer again" in output
    assert f"published v2 at position {published}" in output
    assert "the same key for another request: 422 IdempotencyKeyReused" in output


def test_grpc_client_example_runs_and_reports_error_reasons(server: Served) -> None:
    output = succeeds("grpc_client.py", "--addr", server.grpc_addr, "--token", TOKEN)
    assert "expected error: NOT_FOUND SpecNotPublished" in output
    assert "consumers are served v1 (published)" in output
    assert "evaluate ann@acme.io: True (v1), matched: ['email', 'country', 'invite_code']" in output
    assert "SpecStateChanged draft->published by eve: reviewed" in output
    failed = run("grpc_client.py", "--addr", server.grpc_addr, "--token", "wrong")
    assert failed.returncode == 1
    assert "UNAUTHENTICATED Unauthenticated" in failed.stderr


def test_reflection_client_lists_services_and_calls_rpcs_by_name(server: Served) -> None:
    address = ("--addr", server.grpc_addr)
    listed = succeeds("grpc_reflection_call.py", *address, "--list")
    assert "specsvc.v1.SpecService" in listed.splitlines()
    assert "  ListSpecs(ListSpecsRequest) -> ListSpecsResponse" in listed
    assert "WatchEvents(WatchEventsRequest) -> Event (server streaming)" in listed

    def call(method: str, request: dict[str, Any]) -> dict[str, Any]:
        args = (*address, "--token", TOKEN, method, json.dumps(request))
        return json.loads(succeeds("grpc_reflection_call.py", *args))

    created = call("CreateSpec", {"name": "by-reflection", "type": "generic", "content": "a: 1\n"})
    assert (created["state"], created["version"]) == ("draft", "1")  # int64 is a JSON string
    listed_specs = call("ListSpecs", {"name_prefix": "by-reflection"})["specs"]
    assert [spec["name"] for spec in listed_specs] == ["by-reflection"]
    assert call("grpc.health.v1.Health/Check", {}) == {"status": "SERVING"}

    missing = run("grpc_reflection_call.py", *address, "--token", TOKEN, "GetSpec", '{"name": "x"}')
    assert missing.returncode == 1
    assert "NOT_FOUND SpecNotFound" in missing.stderr
    streaming = run("grpc_reflection_call.py", *address, "WatchEvents")
    assert streaming.returncode == 2
    assert "streaming" in streaming.stderr


def test_consumer_reloads_specs_as_they_are_published(server: Served) -> None:
    server.create_and_publish("already-served")  # loaded at start, not a reload
    consumer = start_consumer(server, "flag-a", "flag-b", "already-served")
    server.create_and_publish("flag-a")
    server.create_and_publish("flag-b", "b: 2\n")
    output = consumer.finish()
    assert "loaded already-served v1 (published)" in output
    assert "reloaded flag-a v1 (published)" in output
    assert "reloaded flag-b v1 (published)" in output


def test_consumer_reconnects_after_a_restart_and_misses_nothing(tmp_path: Path) -> None:
    addresses = (f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}")
    served = serve(tmp_path, *addresses)
    try:
        consumer = start_consumer(served, "first", "second")
        served.create_and_publish("first")
        consumer.wait_for("reloaded first v1")
        stop(served)
        # The same store on the same ports; the consumer reconnects from its last position.
        served = serve(tmp_path, *addresses)
        served.create_and_publish("second")
        output = consumer.finish()
    finally:
        stop(served)
    assert "reconnecting after position" in output
    assert "reloaded second v1 (published)" in output


def test_the_custom_types_folder_holds_only_the_type() -> None:
    registry = SpecTypeRegistry.load(str(TYPES_DIR))
    assert [n for n in registry.names() if n not in BUILT_IN] == ["feature-flag"]
