"""``SpecClient``: the REST API over ``urllib``, errors as ``specsvc.errors``."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

from specsvc.cli.io import UsageError
from specsvc.cli.positions import PositionMemory
from specsvc.cli.rest_errors import error_from_response
from specsvc.errors import BadRequest, Unavailable

PAGE_SIZE = 500
# Seconds between the attempts of a write that got no answer.
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)


class SpecClient:
    """Each method returns the response JSON, or raises the error its ``code`` names.

    A server that cannot be reached raises ``Unavailable``. Reads ask for the position
    of the last write this client (or, with ``memory``, this user) made to the server,
    or ``min_position`` if higher, so they see it through any instance.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        min_position: int | None = None,
        memory: PositionMemory | None = None,
    ):
        self.url = _base_url(url)
        self.token = token
        self.timeout = timeout
        self.min_position = min_position
        self.memory = memory
        self.last_position = 0

    # Commands answer the spec plus ``changed``: False when the server had nothing to do.

    def create(self, name: str, type: str, content: str, *, reason: str | None = None) -> Any:
        body = {"name": name, "type": type, "content": content, "reason": reason}
        return self._command("POST", "/v1/specs", body)

    def update(
        self, name: str, content: str, *, reason: str, expected_version: int | None = None
    ) -> Any:
        body = {"content": content, "reason": reason, "expected_version": expected_version}
        return self._command("PUT", _path(name, "content"), body)

    def publish(self, name: str, *, reason: str, version: int | None = None) -> Any:
        return self._command("POST", _path(name, "publish"), {"reason": reason, "version": version})

    def deprecate(self, name: str, *, reason: str) -> Any:
        return self._command("POST", _path(name, "deprecate"), {"reason": reason})

    def delete(self, name: str, *, reason: str) -> Any:
        return self._command("POST", _path(name, "delete"), {"reason": reason})

    def get_type(self, name: str) -> Any:
        return self._json("GET", "/v1/types/" + urllib.parse.quote(name, safe=""))

    def get(self, name: str, *, as_of: str | None = None) -> Any:
        return self._read("GET", _path(name), query={"as_of": as_of})

    def get_version(self, name: str, version: int) -> Any:
        return self._read("GET", _path(name, "versions", str(version)))

    def get_version_yaml(self, name: str, version: int) -> bytes:
        """The stored YAML of one version, byte for byte."""
        path = _path(name, "versions", str(version))
        return self._read("GET", path, accept="application/yaml", raw=True)

    def list_specs(self, **filters: Any) -> Any:
        """One page: ``state``, ``type``, ``name_prefix``, ``limit``, ``page_token``."""
        return self._read("GET", "/v1/specs", query=filters)

    def iter_specs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every summary matching ``filters``, following ``next_page_token``."""
        token = None
        while True:
            page = self.list_specs(**filters, limit=PAGE_SIZE, page_token=token)
            yield from page["specs"]
            token = page["next_page_token"]
            if token is None:
                return

    def versions(self, name: str) -> Any:
        return self._read("GET", _path(name, "versions"))

    def history(self, name: str) -> Any:
        return self._read("GET", _path(name, "history"))

    def diff(self, name: str, from_version: int, to_version: int) -> Any:
        query = {"from": from_version, "to": to_version}
        return self._read("GET", _path(name, "diff"), query=query)

    def evaluate(self, name: str, input: Any, *, version: int | None = None) -> Any:
        return self._read("POST", _path(name, "evaluate"), {"input": input, "version": version})

    def events(self, *, after: int = 0, limit: int = PAGE_SIZE, spec: str | None = None) -> Any:
        query = {"after": after, "limit": limit, "spec": spec}
        return self._read("GET", "/v1/events", query=query)

    def _command(self, method: str, path: str, body: dict[str, Any]) -> Any:
        # One idempotency key per command: when an attempt gets no answer (a dropped
        # connection, a restarting server), the retry cannot write twice.
        key = str(uuid4())
        for delay in (*RETRY_DELAYS, None):
            try:
                raw, headers = self._send(method, path, body, idempotency_key=key)
                break
            except Unavailable:
                if delay is None:
                    raise
                time.sleep(delay)
        answer = {**self._decode(raw), "changed": headers.get("X-Spec-Changed") != "false"}
        position = answer.get("position")
        if isinstance(position, int):
            self.last_position = max(self.last_position, position)
            if self.memory is not None:
                self.memory.remember(self.url, position)
        return answer

    def _read(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        query: Any = None,
        *,
        accept: str = "application/json",
        raw: bool = False,
    ) -> Any:
        """A read that sees this client's writes (docs/behaviour.md, Consistency)."""
        remembered = self.memory.recall(self.url) if self.memory is not None else None
        wanted = max(self.min_position or 0, self.last_position, remembered or 0)
        try:
            data = self._send(method, path, body, query, accept, min_position=wanted or None)[0]
        except BadRequest as error:
            if "last_position" not in error.details or wanted == (self.min_position or 0):
                raise
            # A remembered position this server's log has not reached: the server was
            # replaced by another store. Forget it and read without it.
            if self.memory is not None:
                self.memory.forget(self.url)
            self.last_position = 0
            data = self._send(method, path, body, query, accept, min_position=self.min_position)[0]
        return data if raw else self._decode(data)

    def _json(
        self, method: str, path: str, body: dict[str, Any] | None = None, query: Any = None
    ) -> Any:
        return self._decode(self._send(method, path, body, query)[0])

    def _decode(self, raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except ValueError:
            raise self._not_the_api("its answer is not JSON") from None

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
        accept: str = "application/json",
        idempotency_key: str | None = None,
        min_position: int | None = None,
    ) -> tuple[bytes, Any]:
        request = urllib.request.Request(self.url + path + _query(query), method=method)
        request.add_header("Accept", accept)
        if min_position:
            request.add_header("X-Min-Position", str(min_position))
        if idempotency_key is not None:
            request.add_header("Idempotency-Key", idempotency_key)
        if body is not None:
            present = {key: value for key, value in body.items() if value is not None}
            request.data = json.dumps(present).encode("utf-8")
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return bytes(response.read()), response.headers
        except urllib.error.HTTPError as error:
            raise error_from_response(error.code, error.read()) from None
        except http.client.BadStatusLine:
            # Something answered, but not in HTTP/1.1: typically the gRPC port (HTTP/2).
            raise self._not_the_api("it does not speak HTTP/1.1; is this the gRPC port?") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            raise Unavailable(f"cannot reach {self.url}: {reason}") from None

    def _not_the_api(self, why: str) -> UsageError:
        return UsageError(
            f"{self.url} is not the Spec Service REST API ({why}); point --url or"
            " SPECSVC_URL at the REST listener (serve --rest-addr)"
        )


def _base_url(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UsageError(
            f"--url {url!r} is not an http(s) URL; write it with its scheme,"
            f" e.g. http://{url.split('://')[-1] or '127.0.0.1:8080'}"
        )
    return url.rstrip("/")


def _path(name: str, *parts: str) -> str:
    return "/".join(["/v1/specs", urllib.parse.quote(name, safe=""), *parts])


def _query(params: dict[str, Any] | None) -> str:
    present = {key: value for key, value in (params or {}).items() if value is not None}
    return "?" + urllib.parse.urlencode(present) if present else ""
