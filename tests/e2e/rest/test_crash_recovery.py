"""SIGKILL ``specsvc serve`` again and again while writers write over REST.

docs/behaviour.md, Running: the server "loses no acknowledged write when killed"; and
Idempotent retries: a write that got no answer is settled by sending it again with its
key. Writers create, update and publish specs (and send requests that must be refused)
while a killer SIGKILLs the server at random moments and restarts it on the same file
and port. Every request carries its own ``Idempotency-Key`` and its own reason, so its
event can be found afterwards. Each request ends acknowledged (2xx), refused (4xx) or
indeterminate (no answer, a dropped connection, a 5xx); the indeterminate ones are sent
again with their keys until they are answered. Then ``problems`` compares the outcomes
with what the store holds, read through the public interfaces only.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from tests.support.processes import Server, start

SEED = 20261203
WRITERS = 8
KILLS = 12
AT_LEAST = 8  # kills, however slow the machine
KILLING_FOR = 45.0  # seconds; past it, stop at AT_LEAST kills
SERVER_LIVES = (0.2, 1.5)  # seconds between a server's start and its SIGKILL
REQUEST_TIMEOUT = 10.0
RETRY_FOR = 60.0  # seconds to settle the indeterminate requests (a broken build only)

ACKNOWLEDGED, REFUSED, INDETERMINATE = "acknowledged", "refused", "indeterminate"
EVENT_OF = {"create": "SpecCreated", "update": "SpecUpdated", "publish": "SpecStateChanged"}
NOT_A_MAPPING = "- a list\n- is not a spec\n"


# -- The ledger: every request and what it got ------------------------------------------


@dataclass
class Write:
    """One logical write: its request, sent with one key however often, and its outcome."""

    key: str
    kind: str  # create, update or publish
    spec: str
    reason: str  # unique: the write's event carries it
    method: str
    path: str
    body: dict[str, Any]
    must_be_refused: bool = False
    outcome: str = INDETERMINATE
    status: int | None = None
    answer: dict[str, Any] = field(default_factory=dict)  # the 2xx body or the error body
    first_try: str = ""  # what the first attempt got: "201", "503", "ConnectionResetError"
    retries: int = 0

    @property
    def content_sha256(self) -> str | None:
        content = self.body.get("content")
        return None if content is None else hashlib.sha256(content.encode()).hexdigest()


@dataclass
class Stored:
    """What the store holds, as the REST API shows it."""

    events: list[dict[str, Any]]  # GET /v1/events, every page
    versions: dict[str, list[dict[str, Any]]]  # GET /v1/specs/{name}/versions, every spec


def problems(writes: Sequence[Write], stored: Stored) -> list[str]:
    """Every way the store disagrees with what its clients were told; empty when none."""
    found: list[str] = []
    events_by_reason: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for event in stored.events:
        events_by_reason[event["reason"]].append(event)
    versions_by_reason: dict[tuple[str, str | None], list[dict[str, Any]]] = defaultdict(list)
    for name, versions in stored.versions.items():
        for version in versions:
            versions_by_reason[name, version["reason"]].append(version)

    for write in writes:
        events = events_by_reason.get(write.reason, [])
        versions = versions_by_reason.get((write.spec, write.reason), [])
        label = f"{write.kind} {write.reason!r} ({write.first_try}, {write.retries} retries)"
        if write.outcome == INDETERMINATE:
            found.append(f"{label}: still without an answer after retrying")
        elif write.outcome == REFUSED:
            if not write.must_be_refused:
                found.append(f"{label}: refused with {write.status} {_code(write)}")
            if events or versions:
                found.append(f"{label}: refused, yet stored {len(events)} times")
        else:
            if write.must_be_refused:
                found.append(f"{label}: acknowledged, but it must be refused")
            if len(events) != 1:
                what = "missing" if not events else f"stored {len(events)} times"
                found.append(f"{label}: acknowledged with {write.status}, {what}")
                continue
            found += [f"{label}: {p}" for p in _answer_problems(write, events[0], versions)]

    known = {write.reason for write in writes}
    found += [
        f"event {e['position']} of {e['spec']!r}: no request sent its reason {e['reason']!r}"
        for e in stored.events
        if e["reason"] not in known
    ]
    found += _gaps(stored)
    return found


def _answer_problems(
    write: Write, event: dict[str, Any], versions: list[dict[str, Any]]
) -> list[str]:
    """Does the stored event say what the answer said: same spec, version and position?"""
    answer = write.answer
    found = []
    stored = (event["spec"], event["event"], event["position"])
    told = (write.spec, EVENT_OF[write.kind], answer.get("position"))
    if stored != told:
        found.append(f"answered {told}, stored {stored}")
    if write.kind == "publish":
        if event["published_version"] != answer.get("published_version"):
            found.append(
                f"answered published version {answer.get('published_version')},"
                f" stored {event['published_version']}"
            )
        if versions:
            found.append(f"a publish made {len(versions)} versions")
        return found
    if event["version"] != answer.get("version"):
        found.append(f"answered version {answer.get('version')}, stored {event['version']}")
    kept = [(v["version"], v["content_sha256"]) for v in versions]
    if kept != [(answer.get("version"), write.content_sha256)]:
        found.append(
            f"answered version {answer.get('version')} of the content sent, stored versions {kept}"
        )
    return found


def _gaps(stored: Stored) -> list[str]:
    found = []
    positions = [event["position"] for event in stored.events]
    if positions != sorted(set(positions)):
        found.append("the audit log's positions repeat or go back")
    sequences: dict[str, list[int]] = defaultdict(list)
    for event in stored.events:
        sequences[event["spec"]].append(event["sequence"])
    for name, numbers in sequences.items():
        if numbers != list(range(1, len(numbers) + 1)):
            found.append(f"{name!r}: event sequence {numbers} is not 1..{len(numbers)}")
    for name, versions in stored.versions.items():
        numbers = [version["version"] for version in versions]
        if numbers != list(range(1, len(numbers) + 1)):
            found.append(f"{name!r}: versions {numbers} are not 1..{len(numbers)}")
    return found


def _code(write: Write) -> str:
    error = write.answer.get("error")
    return str(error.get("code")) if isinstance(error, dict) else "?"


# -- Writers ------------------------------------------------------------------------------


class Workload:
    """One writer's requests, on specs of its own, so it can tell what each should get.

    Updates and publishes go to specs whose creation was acknowledged; a publish names a
    version an acknowledged answer reported and no other publish named, so it always
    changes something. One request in eight must be refused.
    """

    def __init__(self, writer: int, rng: random.Random):
        self.writer = writer
        self.rng = rng
        self.sent = 0
        self.specs: list[str] = []  # created, as acknowledged
        self.unpublished: list[tuple[str, int]] = []  # versions no publish has named yet

    def next(self) -> Write:
        self.sent += 1
        tag = f"crash {self.writer}-{self.sent}"
        roll = self.rng.random()
        if not self.specs or roll < 0.2:
            return self._create(f"crash-w{self.writer}-s{self.sent}", tag)
        if roll < 0.875:
            if self.unpublished and roll >= 0.55:
                name, version = self.unpublished.pop(self.rng.randrange(len(self.unpublished)))
                return self._write("publish", name, tag, {"reason": tag, "version": version})
            name = self.rng.choice(self.specs)
            return self._write("update", name, tag, {"content": _content(tag), "reason": tag})
        return self._refused(tag)

    def learn(self, write: Write) -> None:
        if write.outcome != ACKNOWLEDGED or write.must_be_refused:
            return
        if write.kind == "create":
            self.specs.append(write.spec)
        if write.kind in ("create", "update"):
            self.unpublished.append((write.spec, write.answer["version"]))

    def _create(self, name: str, tag: str, content: str | None = None, **kw: Any) -> Write:
        body = {"name": name, "type": "generic", "content": content or _content(tag)}
        return self._write("create", name, tag, {**body, "reason": tag}, **kw)

    def _refused(self, tag: str) -> Write:
        name = self.rng.choice(self.specs)
        kind = self.sent % 4
        if kind == 0:  # the name is taken: 409 SpecAlreadyExists
            return self._create(name, tag, must_be_refused=True)
        if kind == 1:  # no such spec: 404 SpecNotFound
            body = {"content": _content(tag), "reason": tag}
            return self._write("update", f"crash-w{self.writer}-none-{self.sent}", tag, body, True)
        if kind == 2:  # content that is not a mapping: 422 ValidationError
            fresh = f"crash-w{self.writer}-bad-{self.sent}"
            return self._create(fresh, tag, NOT_A_MAPPING, must_be_refused=True)
        # no such version: 404 VersionNotFound
        return self._write("publish", name, tag, {"reason": tag, "version": 10_000}, True)

    @staticmethod
    def _write(
        kind: str, name: str, tag: str, body: dict[str, Any], must_be_refused: bool = False
    ) -> Write:
        method, path = {
            "create": ("POST", "/v1/specs"),
            "update": ("PUT", f"/v1/specs/{name}/content"),
            "publish": ("POST", f"/v1/specs/{name}/publish"),
        }[kind]
        return Write(str(uuid4()), kind, name, tag, method, path, body, must_be_refused)


def _content(tag: str) -> str:
    return f"written_by: {tag.split()[1]}\nnote: {tag}\n"


def send(port: int, write: Write) -> tuple[int, str | None, dict[str, Any]]:
    """One attempt: (status, Retry-After, body); raises when there is no whole answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        headers = {"Content-Type": "application/json", "Idempotency-Key": write.key}
        connection.request(write.method, write.path, json.dumps(write.body), headers)
        response = connection.getresponse()
        return response.status, response.getheader("Retry-After"), json.loads(response.read())
    finally:
        connection.close()


def attempt(port: int, write: Write) -> float:
    """Send ``write`` once and record what it got; how long to wait before trying again."""
    try:
        status, retry_after, body = send(port, write)
    except (OSError, http.client.HTTPException, ValueError) as error:
        write.first_try = write.first_try or type(error).__name__
        return 0.1
    write.first_try = write.first_try or str(status)
    write.status, write.answer = status, body
    if status >= 500:
        return float(retry_after or 0.1)
    write.outcome = ACKNOWLEDGED if status < 300 else REFUSED
    return 0.0


# -- The server, killed and restarted ----------------------------------------------------


class Crashing:
    """``specsvc serve`` on one file and one port, SIGKILLed and started again."""

    def __init__(self, db: Path, port: int):
        self.args = ("--db", str(db), "--rest-addr", f"127.0.0.1:{port}")
        self.up = threading.Event()
        self.kills = 0
        self.unseen: list[int] = []  # acknowledged positions a restarted server did not show
        self.logs: list[list[str]] = []
        self.server = self.start()

    def start(self) -> Server:
        self.server = start(*self.args)
        self.logs.append(self.server.log)
        self.up.set()
        return self.server

    def kill(self) -> None:
        self.up.clear()
        self.server.stop(signal.SIGKILL)
        self.kills += 1

    def run(self, rng: random.Random, acknowledged_head: Callable[[], int]) -> None:
        """Kill and restart; each new server must show at once every acknowledged write
        (docs/behaviour.md, REST API: read-your-writes), up to the latest position."""
        began = time.monotonic()
        while self.kills < KILLS and (
            self.kills < AT_LEAST or time.monotonic() - began < KILLING_FOR
        ):
            time.sleep(rng.uniform(*SERVER_LIVES))
            self.kill()
            head = acknowledged_head()
            self.start()
            if head:
                status, page = self.server.json("GET", f"/v1/events?after={head - 1}&limit=1")
                if status != 200 or [e["position"] for e in page["events"]] != [head]:
                    self.unseen.append(head)


def port_outside_ephemeral_range() -> int:
    """A free port no client socket or port-0 listener will take while the server restarts."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()  # a free port, not a reproducible one
    for _ in range(100):
        port = rng.randrange(10_000, max(low, 10_001))
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port below the ephemeral range")


# -- Reading the store back ----------------------------------------------------------------


def read_back(server: Server) -> Stored:
    events = read_events(server)
    versions = {}
    for name in dict.fromkeys(event["spec"] for event in events):
        status, listed = server.json("GET", f"/v1/specs/{name}/versions")
        assert status == 200, listed
        versions[name] = listed["versions"]
    return Stored(events, versions)


def read_events(server: Server) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        status, page = server.json("GET", f"/v1/events?after={after}&limit=500")
        assert status == 200, page
        events += page["events"]
        if not page["events"]:
            break
        after = page["next_after"]
    return events


def exported(db: Path) -> list[tuple[int, str, int, str, str | None]]:
    """The event store itself, through ``specsvc export``: (position, spec, sequence,
    event, reason) of every event."""
    done = _specsvc("export", "--db", str(db))
    assert done.returncode == 0, done.stderr
    names: dict[str, str] = {}
    rows = []
    for line in done.stdout.splitlines():
        event = json.loads(line)
        state, spec_id = event["state"], event["originator_id"]
        names.setdefault(spec_id, state.get("name", "?"))
        kind = event["topic"].rsplit(".", 1)[-1]
        rows.append(
            (
                event["position"],
                names[spec_id],
                event["originator_version"],
                kind,
                state.get("reason"),
            )
        )
    return rows


def _specsvc(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "specsvc.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


# -- Tests ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_killed_server_loses_nothing_acknowledged_and_retries_write_once(tmp_path: Path) -> None:
    db = tmp_path / "specs.db"
    port = port_outside_ephemeral_range()
    crashing = Crashing(db, port)
    ledger: list[Write] = []
    ledger_lock = threading.Lock()
    stop = threading.Event()
    started = time.monotonic()

    def writer(number: int) -> None:
        workload = Workload(number, random.Random(SEED + number))
        while not stop.is_set():
            write = workload.next()
            with ledger_lock:
                ledger.append(write)
            attempt(port, write)
            workload.learn(write)
            if write.outcome == INDETERMINATE:
                crashing.up.wait(timeout=REQUEST_TIMEOUT)

    def acknowledged_head() -> int:
        with ledger_lock:
            answered = [w.answer for w in ledger if w.outcome == ACKNOWLEDGED]
        return max((answer["position"] for answer in answered), default=0)

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(WRITERS)]
    try:
        for thread in threads:
            thread.start()
        crashing.run(random.Random(SEED), acknowledged_head)
        time.sleep(0.5)  # some writes to the last server, unharmed
        stop.set()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT * 2)
        assert not any(thread.is_alive() for thread in threads)
        written = time.monotonic() - started

        # Settle every write that got no answer: the same request with the same key.
        head = max((e["position"] for e in read_events(crashing.server)), default=0)
        unsettled = [write for write in ledger if write.outcome == INDETERMINATE]
        deadline = time.monotonic() + RETRY_FOR
        for write in unsettled:
            while write.outcome == INDETERMINATE and time.monotonic() < deadline:
                write.retries += 1
                time.sleep(attempt(port, write))
        stored = read_back(crashing.server)
        assert crashing.server.stop() == 0, "\n".join(crashing.server.log)
    finally:
        stop.set()
        if crashing.server.process.poll() is None:
            crashing.server.stop(signal.SIGKILL)

    assert not crashing.unseen, f"restarted servers did not show positions {crashing.unseen}"
    found = problems(ledger, stored)
    assert not found, "\n".join(found[:50])

    # The audit log (a read model) shows exactly the event store's events.
    audit = [
        (e["position"], e["spec"], e["sequence"], e["event"], e["reason"]) for e in stored.events
    ]
    assert audit == exported(db)
    verified = _specsvc("verify", "--db", str(db))
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # The check is not vacuous on this run's facts: a lost or a doubled write is seen.
    acknowledged = [w for w in ledger if w.outcome == ACKNOWLEDGED and w.kind == "update"]
    assert acknowledged and unsettled
    target = acknowledged[len(acknowledged) // 2]
    assert any("missing" in p for p in problems(ledger, dropping(stored, target.reason)))
    assert any("stored 2 times" in p for p in problems(ledger, doubling(stored, target.reason)))

    landed_before = [w for w in unsettled if w.answer.get("position", head + 1) <= head]
    first_tries = Counter(w.first_try for w in unsettled)
    print(
        f"\n{crashing.kills} kills in {written:.1f}s; {len(ledger)} writes,"
        f" {Counter(w.outcome for w in ledger)}; {len(unsettled)} indeterminate"
        f" ({dict(first_tries)}), {len(landed_before)} of them had been stored before"
        f" the kill and were answered from their key; {len(stored.events)} events"
    )
    assert crashing.kills >= AT_LEAST
    # Every start recovered quietly: nothing was logged as an error.
    errors = [line for log in crashing.logs for line in log if '"level": "error"' in line]
    assert not errors, "\n".join(errors)


def test_the_checker_reports_a_lost_write() -> None:
    writes, stored = _sample()
    assert problems(writes, stored) == []
    found = problems(writes, dropping(stored, "crash 0-2"))
    assert any("'crash 0-2'" in p and "missing" in p for p in found), found


def test_the_checker_reports_a_write_stored_twice() -> None:
    writes, stored = _sample()
    found = problems(writes, doubling(stored, "crash 0-2"))
    assert any("'crash 0-2'" in p and "stored 2 times" in p for p in found), found


def test_the_checker_reports_a_refused_write_that_was_stored() -> None:
    writes, stored = _sample()
    refused = next(w for w in writes if w.outcome == REFUSED)
    writes = [replace(w, must_be_refused=False) if w is refused else w for w in writes]
    assert any("refused with 409" in p for p in problems(writes, stored))
    stored.events.append(
        {
            **stored.events[0],
            "position": 9,
            "sequence": 4,
            "event": "SpecUpdated",
            "reason": refused.reason,
            "version": 3,
        }
    )
    assert any("refused, yet stored 1 times" in p for p in problems(writes, stored))


def test_the_checker_reports_an_unsettled_write() -> None:
    writes, stored = _sample()
    writes[1] = replace(writes[1], outcome=INDETERMINATE)
    assert any("still without an answer" in p for p in problems(writes, stored))


def dropping(stored: Stored, reason: str) -> Stored:
    """``stored`` without the write that gave ``reason``."""
    return Stored(
        [e for e in stored.events if e["reason"] != reason],
        {n: [v for v in vs if v["reason"] != reason] for n, vs in stored.versions.items()},
    )


def doubling(stored: Stored, reason: str) -> Stored:
    """``stored`` with the write that gave ``reason`` (an update) stored once more, last."""
    (event,) = [e for e in stored.events if e["reason"] == reason]
    name = event["spec"]
    versions = stored.versions[name]
    sequence = max(e["sequence"] for e in stored.events if e["spec"] == name) + 1
    again = {
        **event,
        "position": stored.events[-1]["position"] + 1,
        "sequence": sequence,
        "version": len(versions) + 1,
    }
    (version,) = [v for v in versions if v["reason"] == reason]
    return Stored(
        [*stored.events, again],
        {**stored.versions, name: [*versions, {**version, "version": len(versions) + 1}]},
    )


def _sample() -> tuple[list[Write], Stored]:
    """A create, an update, a publish and a refused duplicate create, as a run records
    them, and the store as the REST API then shows it."""
    workload = Workload(0, random.Random(SEED))
    create = workload._create("crash-w0-s1", "crash 0-1")
    update = workload._write(
        "update",
        "crash-w0-s1",
        "crash 0-2",
        {"content": _content("crash 0-2"), "reason": "crash 0-2"},
    )
    publish = workload._write(
        "publish", "crash-w0-s1", "crash 0-3", {"reason": "crash 0-3", "version": 2}
    )
    duplicate = workload._create("crash-w0-s1", "crash 0-4", must_be_refused=True)
    answers: list[tuple[Write, int, dict[str, Any]]] = [
        (create, 201, {"version": 1, "published_version": None, "position": 1}),
        (update, 200, {"version": 2, "published_version": None, "position": 2}),
        (publish, 200, {"version": 2, "published_version": 2, "position": 3}),
        (duplicate, 409, {"error": {"code": "SpecAlreadyExists"}}),
    ]
    for write, status, answer in answers:
        write.outcome = ACKNOWLEDGED if status < 300 else REFUSED
        write.status, write.answer, write.first_try = status, answer, str(status)

    def event(write: Write, sequence: int, version: int, published: int | None) -> dict[str, Any]:
        return {
            "position": sequence,
            "spec": write.spec,
            "sequence": sequence,
            "event": EVENT_OF[write.kind],
            "reason": write.reason,
            "version": version,
            "published_version": published,
        }

    def version(write: Write, number: int) -> dict[str, Any]:
        return {"version": number, "reason": write.reason, "content_sha256": write.content_sha256}

    stored = Stored(
        [event(create, 1, 1, None), event(update, 2, 2, None), event(publish, 3, 2, 2)],
        {"crash-w0-s1": [version(create, 1), version(update, 2)]},
    )
    return [create, update, publish, duplicate], stored
