"""Talk to the REST API with nothing but the standard library (urllib).

    python examples/rest_client.py --url URL [--token TOKEN] [--name NAME]

--url URL      where `specsvc serve` listens, e.g. http://127.0.0.1:8080
--token TOKEN  a bearer token (see `specsvc token new`); omit it when the server
               runs without authentication (as `anonymous`, loopback only)
--name NAME    the spec's name; default signup-rules-<random suffix>, so the
               example can run any number of times against the same server

It creates a spec from examples/specs/regex-rules.yaml, publishes it, fetches the
published YAML, evaluates two sign-ups, lists the regex-rules specs and prints the
spec's history. Along the way it shows what an error body looks like.
Exit status: 0 on success, 1 on an unexpected API error, 2 when the server is unreachable.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

RULES = Path(__file__).parent / "specs" / "regex-rules.yaml"


class ApiError(Exception):
    """An error answer: every one has the body {"error": {code, message, details}}."""

    def __init__(self, status: int, body: dict[str, Any]):
        error = body.get("error", {})
        self.status = status
        self.code = error.get("code", "?")
        self.message = error.get("message", "")
        super().__init__(f"HTTP {status} {self.code}: {self.message}")


class Client:
    def __init__(self, url: str, token: str | None):
        self.url = url.rstrip("/")
        self.token = token
        # The log position of our last write. Behind a load balancer the next request may
        # reach another instance, whose read models could still be a moment behind: reads
        # send this position (X-Min-Position) and are answered only once it is projected.
        self.position = 0

    def call(self, method: str, path: str, body: Any = None, accept: str = "application/json"):
        """The decoded JSON answer (or the raw text for non-JSON); ApiError on 4xx/5xx."""
        request = urllib.request.Request(self.url + path, method=method)
        request.add_header("Accept", accept)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        if self.position:
            request.add_header("X-Min-Position", str(self.position))
        if body is not None:
            request.data = json.dumps(body).encode("utf-8")
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode("utf-8")
        except urllib.error.HTTPError as error:  # urllib raises on every 4xx and 5xx
            raise api_error(error) from None
        if accept != "application/json":
            return text
        answer = json.loads(text)
        if isinstance(answer, dict) and isinstance(answer.get("position"), int):
            self.position = max(self.position, answer["position"])  # a write's answer
        return answer


def api_error(error: urllib.error.HTTPError) -> ApiError:
    raw = error.read()
    try:
        details = json.loads(raw)
    except ValueError:
        details = {"error": {"code": "?", "message": raw[:200].decode("utf-8", "replace")}}
    return ApiError(error.code, details)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="base URL of the REST API")
    parser.add_argument("--token", help="bearer token")
    parser.add_argument("--name", help="spec name (default: a fresh one)")
    args = parser.parse_args()
    name = args.name or f"signup-rules-{secrets.token_hex(3)}"
    try:
        tour(Client(args.url, args.token), name)
    except ApiError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"error: cannot reach {args.url}: {error.reason}", file=sys.stderr)
        return 2
    return 0


def tour(api: Client, name: str) -> None:
    content = RULES.read_text("utf-8")
    body = {"name": name, "type": "regex-rules", "content": content, "reason": "first draft"}
    spec = api.call("POST", "/v1/specs", body)
    print(f"created {name} v{spec['version']} ({spec['state']}) by {spec['created_by']}")

    # Errors come back as JSON with an error code; creating the same name twice is one.
    try:
        api.call("POST", "/v1/specs", body)
    except ApiError as error:
        print(f"expected error: {error.status} {error.code}: {error.message}")

    spec = api.call("POST", f"/v1/specs/{name}/publish", {"reason": "reviewed"})
    print(f"published v{spec['published_version']}")

    # Consumers fetch the raw YAML, comments and all, exactly as it was written.
    yaml_text = api.call("GET", f"/v1/specs/{name}/published", accept="application/yaml")
    print(f"published YAML starts with: {yaml_text.splitlines()[0]}")

    for applicant in (
        {"email": "ann@acme.io", "country": "DE", "phone_verified": True},
        {"email": "bot@mailinator.com", "country": "DE", "invite_code": "INV-123456"},
    ):
        outcome = api.call("POST", f"/v1/specs/{name}/evaluate", {"input": applicant})
        print(f"evaluate {applicant['email']}: {outcome['result']} (v{outcome['version']})")

    names = list_names(api, type="regex-rules", name_prefix="signup-rules")
    print(f"{len(names)} regex-rules specs named signup-rules*, ours listed: {name in names}")

    print("history:")
    for event in api.call("GET", f"/v1/specs/{name}/history")["events"]:
        print(f"  #{event['position']} {event['event']} by {event['actor']}: {event['reason']}")


def list_names(api: Client, **filters: str) -> list[str]:
    """Every matching name, following next_page_token from page to page."""
    names: list[str] = []
    page_token = None
    while True:
        query = {**filters, "limit": 100, **({"page_token": page_token} if page_token else {})}
        page = api.call("GET", "/v1/specs?" + urllib.parse.urlencode(query))
        names += [summary["name"] for summary in page["specs"]]
        page_token = page["next_page_token"]
        if not page_token:  # null on the last page
            return names


if __name__ == "__main__":
    sys.exit(main())
