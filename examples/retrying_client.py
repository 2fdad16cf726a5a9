"""Retry a write safely: one Idempotency-Key per logical write, the same key every time.

    python examples/retrying_client.py --url URL [--token TOKEN] [--name NAME]

--url URL      where `specsvc serve` listens, e.g. http://127.0.0.1:8080
--token TOKEN  a bearer token (see `specsvc token new`); omit it when the server
               runs without authentication (as `anonymous`, loopback only)
--name NAME    the spec's name; default retry-demo-<random suffix>

A write that gets no answer (a dropped connection, a timeout, a server restarting) may
or may not have been stored. Sending it again is safe when it carries the same
Idempotency-Key: if the first attempt was stored, the server answers as it did then and
writes nothing; if it was not, the write happens now. Either way it is stored once.

It creates, updates and publishes a spec through `write()`, sends the update again to
show that a repeat writes nothing, and shows what reusing a key for another request gets.
Exit status: 0 on success, 1 on an API error, 2 when the server cannot be reached.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import secrets
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

ATTEMPTS = 6  # then give up, and say that the write's fate is unknown
RETRYABLE = {502, 503, 504}  # the server (or a proxy before it) could not answer now


class ApiError(Exception):
    """A final answer that is an error: {"error": {code, message, details}}."""

    def __init__(self, status: int, body: dict[str, Any]):
        error = body.get("error", {})
        self.status, self.code = status, error.get("code", "?")
        super().__init__(f"HTTP {status} {self.code}: {error.get('message', '')}")


class NoAnswer(Exception):
    """Every attempt went unanswered: the write may or may not have been stored.
    Sending it again later with the same key is still safe."""


def write(
    url: str,
    method: str,
    path: str,
    body: dict[str, Any],
    *,
    token: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """Send one logical write until it is answered; return the answer's JSON.

    The key is made once, here, and sent with every attempt. Never make a new key for
    a retry: that turns the retry into a second, separate write.
    """
    key = key or str(uuid.uuid4())
    for attempt in range(ATTEMPTS):
        try:
            status, headers, answer = send(url, method, path, body, token, key)
        except (OSError, http.client.HTTPException) as error:
            # No answer: the request may have been stored or not; only a retry can tell.
            delay = backoff(attempt)
            print(f"  no answer ({type(error).__name__}); same key again in {delay:.1f}s")
        else:
            if status < 300:
                return answer
            if status not in RETRYABLE:
                # A final answer: 4xx means the request was refused and nothing was written.
                # 422 IdempotencyKeyReused means this key already stands for another
                # request: a bug in the client. Use a new key for each logical write.
                raise ApiError(status, answer)
            # 503 Unavailable: the server is busy or its store is; it says when to come back.
            delay = retry_after(headers) or backoff(attempt)
            print(f"  {status} {answer.get('error', {}).get('code')}; retrying in {delay:.1f}s")
        time.sleep(delay)
    raise NoAnswer(f"{method} {path}: no answer after {ATTEMPTS} attempts (key {key})")


def send(
    url: str,
    method: str,
    path: str,
    body: dict[str, Any],
    token: str | None,
    key: str,
) -> tuple[int, Any, dict[str, Any]]:
    """One attempt: (status, headers, JSON body). Raises when no whole answer came back."""
    request = urllib.request.Request(url.rstrip("/") + path, method=method)
    request.data = json.dumps(body).encode("utf-8")
    request.add_header("Content-Type", "application/json")
    request.add_header("Idempotency-Key", key)  # 1-128 printable ASCII characters
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:  # urllib raises on every 4xx and 5xx
        try:
            return error.code, error.headers, json.loads(error.read())
        except ValueError:  # not our JSON: a proxy's error page
            return error.code, error.headers, {}


def backoff(attempt: int) -> float:
    """0.25s, 0.5s, 1s, ... at most 8s, with jitter so that clients do not retry in step."""
    return min(8.0, 0.25 * 2**attempt) * random.uniform(0.5, 1.0)


def retry_after(headers: Any) -> float | None:
    """The Retry-After header in seconds (the service sends whole seconds)."""
    value = headers.get("Retry-After") if headers is not None else None
    return float(value) if value and value.isdigit() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="base URL of the REST API")
    parser.add_argument("--token", help="bearer token")
    parser.add_argument("--name", help="spec name (default: a fresh one)")
    args = parser.parse_args()
    name = args.name or f"retry-demo-{secrets.token_hex(3)}"
    try:
        demo(args.url, args.token, name)
    except ApiError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except NoAnswer as error:
        print(f"error: cannot reach {args.url}: {error}", file=sys.stderr)
        return 2
    return 0


def demo(url: str, token: str | None, name: str) -> None:
    spec = write(
        url,
        "POST",
        "/v1/specs",
        {"name": name, "type": "generic", "content": "retries: 3\n", "reason": "first draft"},
        token=token,
    )
    print(f"created {name} v{spec['version']} at position {spec['position']}")

    # Keep the key when you may need to send the same write again, here to show it.
    update = {"content": "retries: 5\n", "reason": "more retries"}
    key = str(uuid.uuid4())
    path = f"/v1/specs/{name}/content"
    spec = write(url, "PUT", path, update, token=token, key=key)
    print(f"updated {name} to v{spec['version']} at position {spec['position']}")
    again = write(url, "PUT", path, update, token=token, key=key)
    print(
        f"the same update with the same key: v{again['version']} at position"
        f" {again['position']}, the first answer again; nothing was written twice"
    )

    # The same key with a different request is refused: the key names one request.
    try:
        write(url, "PUT", path, {**update, "content": "retries: 7\n"}, token=token, key=key)
    except ApiError as error:
        print(f"the same key for another request: {error.status} {error.code}")

    spec = write(url, "POST", f"/v1/specs/{name}/publish", {"reason": "reviewed"}, token=token)
    print(f"published v{spec['published_version']} at position {spec['position']}")


if __name__ == "__main__":
    sys.exit(main())
