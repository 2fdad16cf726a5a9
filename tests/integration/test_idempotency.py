"""Idempotency keys at the service layer, on every backend (docs/behaviour.md)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from specsvc import SpecService
from specsvc.errors import BadRequest, IdempotencyKeyReused, SpecAlreadyExists
from specsvc.service import idempotency
from tests.support.stores import event_count

ACTOR = {"actor": "alice", "reason": "because"}


def test_a_retried_create_answers_as_it_first_did_and_writes_nothing(service: SpecService) -> None:
    first = service.create_spec("k", "generic", "a: 1\n", actor="alice", idempotency_key="c-1")
    count = event_count(service)
    again = service.create_spec("k", "generic", "a: 1\n", actor="alice", idempotency_key="c-1")
    assert again == first and again.changed is True  # type: ignore[attr-defined]
    assert event_count(service) == count
    with pytest.raises(SpecAlreadyExists):  # without the key, it is a second create
        service.create_spec("k", "generic", "a: 1\n", actor="alice")


@pytest.mark.parametrize(
    "command",
    [
        lambda s, key: s.update_spec("k", "a: 2\n", idempotency_key=key, **ACTOR),
        lambda s, key: s.publish_spec("k", idempotency_key=key, **ACTOR),
        lambda s, key: s.delete_spec("k", idempotency_key=key, **ACTOR),
    ],
    ids=["update", "publish", "delete"],
)
def test_a_retried_command_answers_the_first_answer_even_after_later_writes(
    service: SpecService, command: Any
) -> None:
    service.create_spec("k", "generic", "a: 1\n", actor="alice")
    first = command(service, "key-1")
    service.update_spec("k", "a: 9\n", **ACTOR) if first["state"] != "deleted" else None
    count = event_count(service)
    assert command(service, "key-1") == first
    assert event_count(service) == count


def test_a_no_op_is_remembered_too(service: SpecService) -> None:
    service.create_spec("k", "generic", "a: 1\n", actor="alice")
    first = service.update_spec("k", "a: 1\n", idempotency_key="noop", **ACTOR)
    service.update_spec("k", "a: 2\n", **ACTOR)
    again = service.update_spec("k", "a: 1\n", idempotency_key="noop", **ACTOR)
    assert again == first and again.changed is False  # type: ignore[attr-defined]
    assert service.get_spec("k")["version"] == 2


def test_the_same_key_with_another_request_is_refused_and_writes_nothing(
    service: SpecService,
) -> None:
    service.create_spec("k", "generic", "a: 1\n", actor="alice")
    service.update_spec("k", "a: 2\n", idempotency_key="u", **ACTOR)
    count = event_count(service)
    for other in (
        lambda: service.update_spec("k", "a: 3\n", idempotency_key="u", **ACTOR),
        lambda: service.publish_spec("k", idempotency_key="u", **ACTOR),
    ):
        with pytest.raises(IdempotencyKeyReused) as refused:
            other()
        assert refused.value.code == "IdempotencyKeyReused"
    assert event_count(service) == count


def test_keys_belong_to_their_principal(service: SpecService) -> None:
    service.create_spec("k", "generic", "a: 1\n", actor="alice")
    service.update_spec("k", "a: 2\n", idempotency_key="mine", **ACTOR)
    bobs = service.update_spec("k", "a: 3\n", actor="bob", reason="r", idempotency_key="mine")
    assert bobs["version"] == 3


@pytest.mark.parametrize("key", ["", "x" * 129, "tab\there", "é", 7])
def test_a_malformed_key_is_bad_request(service: SpecService, key: Any) -> None:
    with pytest.raises(BadRequest):
        service.create_spec("k", "generic", "a: 1\n", actor="alice", idempotency_key=key)
    assert event_count(service) == 0


def test_a_key_expires_after_the_retention(
    service: SpecService, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.create_spec("k", "generic", "a: 1\n", actor="alice")
    service.update_spec("k", "a: 2\n", idempotency_key="old", **ACTOR)
    later = datetime.now(UTC) + timedelta(hours=service.settings.idempotency_retention, minutes=1)

    class Later(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return later

    monkeypatch.setattr(idempotency, "datetime", Later)
    # Forgotten: the same key is a new request now, and may name another one.
    assert service.update_spec("k", "a: 3\n", idempotency_key="old", **ACTOR)["version"] == 3


def test_concurrent_requests_with_one_key_write_once_and_get_one_answer(
    service: SpecService,
) -> None:
    service.create_spec("k", "generic", "a: 1\n", actor="alice")
    answers: list[dict[str, Any]] = []

    def update() -> None:
        answers.append(service.update_spec("k", "a: 2\n", idempotency_key="race", **ACTOR))

    threads = [threading.Thread(target=update) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 8 and all(answer == answers[0] for answer in answers)
    assert [v["version"] for v in service.list_versions("k")["versions"]] == [1, 2]
