"""``SpecClient``: the REST API over ``urllib``, errors as ``specsvc.errors``."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

from specsvc.cli.rest_errors import error_from_response
from specsvc.errors import Unavailable

PAGE_SIZE = 500


class SpecClient:
    """Each method returns the response JSON, or raises the error its ``code`` names.

    A server that cannot be reached raises ``Unavailable``.
    """

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def create(self, name: str, type: str, content: str, *, reason: str | None = None) -> Any:
        body = {"name": name, "type": type, "content": content, "reason": reason}
        return self._json("POST", "/v1/specs", body)

    def update(
        self, name: str, content: str, *, reason: str, expected_version: int | None = None
    ) -> Any:
        body = {"content": content, "reason": reason, "expected_version": expected_version}
        return self._json("PUT", _path(name, "content"), body)

    def publish(self, name: str, *, reason: str, version: int | None = None) -> Any:
        return self._json("POST", _path(name, "publish"), {"reason": reason, "version": version})

    def deprecate(self, name: str, *, reason: str) -> Any:
        return self._json("POST", _path(name, "deprecate"), {"reason": reason})

    def delete(self, name: str, *, reason: str) -> Any:
        return self._json("POST", _path(name, "delete"), {"reason": reason})

    def get(self, name: str, *, as_of: str | None = None) -> Any:
        return self._json("GET", _path(name), query={"as_of": as_of})

    def get_version(self, name: str, version: int) -> Any:
        return self._json("GET", _path(name, "versions", str(version)))

    def get_version_yaml(self, name: str, version: int) -> bytes:
        """The stored YAML of one version, byte for byte."""
        return self._send("GET", _path(name, "versions", str(version)), accept="application/yaml")

    def list_specs(self, **filters: Any) -> Any:
        """One page: ``state``, ``type``, ``name_prefix``, ``limit``, ``page_token``."""
        return self._json("GET", "/v1/specs", query=filters)

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
        return self._json("GET", _path(name, "versions"))

    def history(self, name: str) -> Any:
        return self._json("GET", _path(name, "history"))

    def diff(self, name: str, from_version: int, to_version: int) -> Any:
        return self._json(
            "GET", _path(name, "diff"), query={"from": from_version, "to": to_version}
        )

    def evaluate(self, name: str, input: Any, *, version: int | None = None) -> Any:
        return self._json("POST", _path(name, "evaluate"), {"input": input, "version": version})

    def events(self, *, after: int = 0, limit: int = PAGE_SIZE, spec: str | None = None) -> Any:
        return self._json("GET", "/v1/events", query={"after": after, "limit": limit, "spec": spec})

    def _json(
        self, method: str, path: str, body: dict[str, Any] | None = None, query: Any = None
    ) -> Any:
        return json.loads(self._send(method, path, body, query))

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
        accept: str = "application/json",
    ) -> bytes:
        request = urllib.request.Request(self.url + path + _query(query), method=method)
        request.add_header("Accept", accept)
        if body is not None:
            present = {key: value for key, value in body.items() if value is not None}
            request.data = json.dumps(present).encode("utf-8")
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as error:
            raise error_from_response(error.code, error.read()) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            raise Unavailable(f"cannot reach {self.url}: {reason}") from None


def _path(name: str, *parts: str) -> str:
    return "/".join(["/v1/specs", urllib.parse.quote(name, safe=""), *parts])


def _query(params: dict[str, Any] | None) -> str:
    present = {key: value for key, value in (params or {}).items() if value is not None}
    return "?" + urllib.parse.urlencode(present) if present else ""
