"""The lifecycle state machine through the REST API (Flask's test client, bearer tokens).

The same machine and model as ``test_service_machine``; here every principal has the
roles of ``tests.support.principals.PRINCIPALS``, so the model also says who may do
what, and each refusal must come with its status and the contract's error body. Run it
longer with ``SPECSVC_MACHINE_EXAMPLES=1000 pytest tests/property -n 0``.
"""

from __future__ import annotations

from typing import Any

from werkzeug.test import TestResponse

from rest_api import create_app
from specsvc import SpecService
from specsvc.auth import Authenticator
from specsvc.config import Settings
from tests.property.machine import Answer, lifecycle_machine
from tests.property.model import HTTP_STATUS
from tests.support.budgets import budget
from tests.support.principals import PRINCIPALS, token_store
from tests.support.rest import Api, assert_error

READER = "rita"


class RestDriver:
    """Each command and read one request; a refusal's code is read from its error body."""

    def __init__(self, four_eyes: bool):
        self.service = SpecService.open(settings=Settings(four_eyes=four_eyes))
        app = create_app(self.service, Authenticator(token_store(), None))
        app.testing = True
        self.api = Api(app.test_client(), self.service, READER)

    def close(self) -> None:
        self.service.close()

    @staticmethod
    def _answer(response: TestResponse, status: int = 200, member: str | None = None) -> Answer:
        if response.status_code >= 400:
            code = response.get_json()["error"]["code"]
            assert_error(response, HTTP_STATUS[code], code)
            return Answer(code)
        assert response.status_code == status, response.get_data(as_text=True)
        body = response.get_json()
        changed = response.headers.get("X-Spec-Changed")
        if changed is not None:
            assert response.headers["ETag"] == f'"{body["revision"]}"'
        return Answer(None, body if member is None else body[member], _flag(changed))

    def send(self, command: str, arguments: dict[str, Any], key: str) -> Answer:
        body = {name: value for name, value in arguments.items() if name != "actor"}
        if command == "create":
            method, path, status = "POST", "/v1/specs", 201
            body["type"] = "generic"
        else:
            name = body.pop("name")
            method, status = ("PUT", 200) if command == "update" else ("POST", 200)
            path = f"/v1/specs/{name}/" + ("content" if command == "update" else command)
        principal = self.api.as_(arguments["actor"])
        response = principal.call(method, path, json=body, headers={"Idempotency-Key": key})
        return self._answer(response, status)

    def get_spec(self, name: str) -> Answer:
        response = self.api.get(f"/v1/specs/{name}")
        answer = self._answer(response)
        if answer.code is None:
            assert response.headers["ETag"] == f'"{answer.body["revision"]}"'
        return answer

    def get_published(self, name: str) -> Answer:
        response = self.api.get(f"/v1/specs/{name}/published")
        answer = self._answer(response)
        if answer.code is None:  # docs/behaviour.md, REST API: deprecated content says so
            deprecated = answer.body["state"] == "deprecated"
            assert response.headers.get("Deprecation") == ("true" if deprecated else None)
        return answer

    def list_versions(self, name: str) -> Answer:
        return self._answer(self.api.get(f"/v1/specs/{name}/versions"), member="versions")

    def get_version(self, name: str, version: int) -> Answer:
        return self._answer(self.api.get(f"/v1/specs/{name}/versions/{version}"))

    def history(self, name: str) -> Answer:
        return self._answer(self.api.get(f"/v1/specs/{name}/history"), member="events")

    def list_page(
        self, state: str | None, prefix: str | None, limit: int, token: str | None
    ) -> Answer:
        query = {"state": state, "name_prefix": prefix, "limit": str(limit), "page_token": token}
        sent = {key: value for key, value in query.items() if value is not None}
        return self._answer(self.api.get("/v1/specs", query_string=sent))


def _flag(header: str | None) -> bool | None:
    return None if header is None else {"true": True, "false": False}[header]


RestLifecycle = lifecycle_machine(RestDriver, tuple(PRINCIPALS), PRINCIPALS)
RestLifecycle.TestCase.settings = budget("SPECSVC_MACHINE_EXAMPLES", 40, stateful_step_count=40)
TestRestLifecycle = RestLifecycle.TestCase
