"""The lifecycle state machine through the Python API (``SpecService`` in memory).

Run it longer with ``SPECSVC_MACHINE_EXAMPLES=2000 pytest tests/property -n 0``: the
default run tries the same few dozen sequences every time.
"""

from __future__ import annotations

from typing import Any

from specsvc import SpecService
from specsvc.config import Settings
from specsvc.errors import SpecServiceError
from tests.property.machine import Answer, lifecycle_machine
from tests.support.budgets import budget

# With four eyes, "alice", "Alice" and "alice" in full-width letters are one person.
ACTORS = ("alice", "Alice", "\uff41\uff4c\uff49\uff43\uff45", "bob", "carol")


class ServiceDriver:
    """Each command and read a call of ``SpecService``; its exception class is the code."""

    def __init__(self, four_eyes: bool):
        self.service = SpecService.open(settings=Settings(four_eyes=four_eyes))

    def close(self) -> None:
        self.service.close()

    @staticmethod
    def _call(function: Any, *args: Any, **kwargs: Any) -> Answer:
        try:
            body = function(*args, **kwargs)
        except SpecServiceError as error:
            return Answer(error.code)
        return Answer(None, body, getattr(body, "changed", None))

    def send(self, command: str, arguments: dict[str, Any], key: str) -> Answer:
        more = {"type": "generic"} if command == "create" else {}
        method = getattr(self.service, f"{command}_spec")
        return self._call(method, **arguments, **more, idempotency_key=key)

    def get_spec(self, name: str) -> Answer:
        return self._call(self.service.get_spec, name)

    def get_published(self, name: str) -> Answer:
        return self._call(self.service.get_published, name)

    def list_versions(self, name: str) -> Answer:
        answer = self._call(self.service.list_versions, name)
        return Answer(answer.code, answer.body and answer.body["versions"])

    def get_version(self, name: str, version: int) -> Answer:
        return self._call(self.service.get_version, name, version)

    def history(self, name: str) -> Answer:
        answer = self._call(self.service.history, name)
        return Answer(answer.code, answer.body and answer.body["events"])

    def list_page(
        self, state: str | None, prefix: str | None, limit: int, token: str | None
    ) -> Answer:
        return self._call(
            self.service.list_specs, state=state, name_prefix=prefix, limit=limit, page_token=token
        )


ServiceLifecycle = lifecycle_machine(ServiceDriver, ACTORS)
ServiceLifecycle.TestCase.settings = budget("SPECSVC_MACHINE_EXAMPLES", 60, stateful_step_count=50)
TestServiceLifecycle = ServiceLifecycle.TestCase
