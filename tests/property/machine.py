"""One state machine for the lifecycle, run through any API by a driver.

The machine sends random commands (create, update with or without ``expected_version``,
publish the latest or a version k, deprecate, delete) as random actors, with four eyes
on or off, and compares every answer, and after every command every read of the spec it
touched, with ``LifecycleModel``. A driver turns each command and read into a call of
one API and its answer into an ``Answer``: the error code, or the body.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.property.model import (
    INVALID_CONTENTS,
    MAY,
    REASONS,
    VALID_CONTENTS,
    Expected,
    LifecycleModel,
)

NAMES = ("alpha", "beta", "gamma")
STATES = (None, "draft", "published", "deprecated", "deleted")

# Most commands go to the first spec and most deletions to the others, so that the
# first spec lives long (past snapshots of its state, taken every 10 events).
names = st.sampled_from(NAMES[:1] * 3 + NAMES[1:])
doomed = st.sampled_from(NAMES[1:] * 3 + NAMES[:1])
# Mostly what is accepted, so that specs get far in their lives; sometimes what is not
# (sampled_from is uniform: the accepted values are listed more than once).
contents = st.sampled_from(VALID_CONTENTS * 2 + INVALID_CONTENTS)
reasons = st.sampled_from(REASONS[:2] * 4 + (REASONS[2], None))
# An expected version relative to the latest one: none, right, behind, ahead, or 0.
expected_offsets = st.sampled_from((None, 0) * 3 + (-1, 1, "zero"))
# A version to publish: the latest (None), or any k, including 0 and one past the latest.
versions = st.one_of(st.none(), st.none(), st.integers(min_value=0, max_value=4))


@dataclass(frozen=True)
class Answer:
    """An API's answer: ``code`` when refused, else ``body`` (and ``changed`` for commands)."""

    code: str | None
    body: Any = None
    changed: bool | None = None


class Driver(Protocol):
    def send(self, command: str, arguments: dict[str, Any], key: str) -> Answer:
        """Send ``command`` (create, update, publish, deprecate or delete) with the
        arguments of the model's method of that name and ``key`` as its idempotency key."""

    def get_spec(self, name: str) -> Answer: ...

    def get_published(self, name: str) -> Answer: ...

    def list_versions(self, name: str) -> Answer: ...

    def get_version(self, name: str, version: int) -> Answer: ...

    def history(self, name: str) -> Answer: ...

    def list_page(
        self, state: str | None, prefix: str | None, limit: int, token: str | None
    ) -> Answer:
        """One page of ``list_specs``: its body is ``{specs, next_page_token}``."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Sent:
    """A command the machine sent, with its idempotency key and its first answer."""

    command: str
    arguments: dict[str, Any]
    key: str
    answer: Answer


def subset(actual: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """The members of ``actual`` the model knows about."""
    return {key: actual.get(key, "<missing>") for key in expected}


def lifecycle_machine(
    open_driver: Callable[[bool], Driver],
    actors: tuple[str, ...],
    roles: dict[str, tuple[str, ...]] | None = None,
) -> type[RuleBasedStateMachine]:
    """A machine whose commands go through ``open_driver(four_eyes)``, sent by ``actors``
    (with ``roles``, each principal's roles; None: everyone may do everything)."""

    def by(action: str) -> st.SearchStrategy[str]:
        """Any actor, more often one whose roles allow ``action``."""
        anyone = st.sampled_from(actors)
        if roles is None:
            return anyone
        allowed = [actor for actor in actors if any(action in MAY[r] for r in roles[actor])]
        return st.one_of(st.sampled_from(allowed), anyone)

    class LifecycleMachine(RuleBasedStateMachine):
        driver: Driver
        model: LifecycleModel

        def __init__(self) -> None:
            super().__init__()
            self.touched: str | None = None
            self.position: int | None = None
            self.sent: list[Sent] = []

        @initialize(four_eyes=st.booleans(), first=by("create"), second=by("create"))
        def start(self, four_eyes: bool, first: str, second: str) -> None:
            """A store with two specs in it, so that most commands have something to do."""
            self.model = LifecycleModel(four_eyes=four_eyes, roles=roles)
            self.driver = open_driver(four_eyes)
            self.create(NAMES[0], VALID_CONTENTS[0], first, None)
            self.create(NAMES[1], VALID_CONTENTS[1], second, None)

        def teardown(self) -> None:
            if hasattr(self, "driver"):
                self.driver.close()

        def send(self, command: str, **arguments: Any) -> None:
            """Send a command with a new idempotency key; its answer must be the model's."""
            key = f"key-{len(self.sent)}"
            answer = self.driver.send(command, arguments, key)
            self.check(arguments["name"], answer, getattr(self.model, command)(**arguments))
            self.sent.append(Sent(command, arguments, key, answer))

        def check(self, name: str, answer: Answer, expected: Expected) -> None:
            """The command's answer is the model's; accepted, it answers the spec."""
            assert answer.code == expected.code, (answer, expected)
            self.touched = name
            if expected.code is None:
                assert answer.changed is expected.changed, (answer.changed, expected)
                wanted = self.model.specs[name].resource()
                assert subset(answer.body, wanted) == wanted
                self.position = answer.body["position"]

        @rule(name=names, content=contents, actor=by("create"), reason=reasons)
        def create(self, name: str, content: str, actor: str, reason: str | None) -> None:
            self.send("create", name=name, content=content, actor=actor, reason=reason)

        @rule(
            name=names,
            content=contents,
            actor=by("update"),
            reason=reasons,
            offset=expected_offsets,
        )
        def update(
            self, name: str, content: str, actor: str, reason: str | None, offset: object
        ) -> None:
            spec = self.model.specs.get(name)
            latest = spec.latest if spec is not None else 1
            expected = None if offset is None else 0 if offset == "zero" else latest + int(offset)
            self.send(
                "update",
                name=name,
                content=content,
                actor=actor,
                reason=reason,
                expected_version=expected,
            )

        @rule(name=names, actor=by("publish"), reason=reasons, version=versions)
        def publish(self, name: str, actor: str, reason: str | None, version: int | None) -> None:
            self.send("publish", name=name, actor=actor, reason=reason, version=version)

        @rule(name=names, actor=by("deprecate"), reason=reasons)
        def deprecate(self, name: str, actor: str, reason: str | None) -> None:
            self.send("deprecate", name=name, actor=actor, reason=reason)

        @rule(name=doomed, actor=by("delete"), reason=reasons)
        def delete(self, name: str, actor: str, reason: str | None) -> None:
            self.send("delete", name=name, actor=actor, reason=reason)

        @rule(pick=st.integers(min_value=0, max_value=99))
        @precondition(lambda self: self.sent)
        def retry(self, pick: int) -> None:
            """docs/behaviour.md, Idempotent retries: a command sent again with its key
            answers exactly as it first did and writes nothing, however the spec has
            changed since; one that was refused leaves no trace and is evaluated again."""
            index = pick % len(self.sent)
            sent = self.sent[index]
            answer = self.driver.send(sent.command, sent.arguments, sent.key)
            if sent.answer.code is None:
                assert answer == sent.answer, (answer, sent.answer)
                self.touched, self.position = sent.arguments["name"], None
                return
            expected = getattr(self.model, sent.command)(**sent.arguments)
            self.check(sent.arguments["name"], answer, expected)
            self.sent[index] = Sent(sent.command, sent.arguments, sent.key, answer)

        @rule(pick=st.integers(min_value=0, max_value=99))
        @precondition(lambda self: any(sent.answer.code is None for sent in self.sent))
        def reuse_key(self, pick: int) -> None:
            """The key of an answered command, sent with another request, is refused."""
            answered = [sent for sent in self.sent if sent.answer.code is None]
            sent = answered[pick % len(answered)]
            arguments = {**sent.arguments, "reason": "another request"}
            answer = self.driver.send(sent.command, arguments, sent.key)
            assert answer.code == "IdempotencyKeyReused", answer
            self.touched, self.position = sent.arguments["name"], None

        @rule(name=names, version=st.integers(min_value=0, max_value=6))
        def get_version(self, name: str, version: int) -> None:
            code, wanted = self.model.get_version(name, version)
            answer = self.driver.get_version(name, version)
            assert answer.code == code, (answer, code)
            if wanted is not None:
                assert subset(answer.body, wanted) == wanted

        @rule(
            state=st.sampled_from(STATES),
            prefix=st.sampled_from((None, "a", "al", "b", "gamma", "x")),
            limit=st.sampled_from((1, 2, 500)),
        )
        def list_specs(self, state: str | None, prefix: str | None, limit: int) -> None:
            self.check_list(state, prefix, limit)

        def check_list(self, state: str | None, prefix: str | None, limit: int) -> None:
            """The pages, followed from token to token, list what the model lists."""
            listed: list[dict[str, Any]] = []
            token = None
            for _ in range(len(NAMES) + 1):
                answer = self.driver.list_page(state, prefix, limit, token)
                assert answer.code is None, answer
                page, token = answer.body["specs"], answer.body["next_page_token"]
                assert len(page) <= limit, page
                listed += page
                if token is None:
                    break
            wanted = self.model.list_specs(state, prefix)
            assert token is None and len(listed) == len(wanted), (listed, wanted)
            assert [subset(s, w) for s, w in zip(listed, wanted, strict=True)] == wanted

        @invariant()
        @precondition(lambda self: self.touched is not None)
        def reads_agree_with_the_model(self) -> None:
            """Every read of the spec the last command named, and the default list."""
            name = self.touched
            assert name is not None
            spec, published = self.driver.get_spec(name), self.driver.get_published(name)
            history = self.driver.history(name)
            self.check_read(name, spec, self.model.get_spec(name))
            self.check_read(name, published, self.model.get_published(name))
            self.check_rows(self.driver.list_versions(name), self.model.list_versions(name))
            self.check_rows(history, self.model.history(name))
            if history.code is None:
                self.check_times(spec.body, published, history.body)
                self.check_positions(history.body)
            self.check_list(None, None, 500)

        @staticmethod
        def check_times(spec: dict[str, Any], published: Answer, events: list[Any]) -> None:
            """The spec was created at its first event and updated at its last, and its
            content was published at the last event that published it."""
            assert spec["created_at"] == events[0]["timestamp"], (spec, events[0])
            assert spec["updated_at"] == events[-1]["timestamp"], (spec, events[-1])
            if published.code is None:
                publishing = [e for e in events if e["to_state"] == "published"]
                assert published.body["published_at"] == publishing[-1]["timestamp"]

        @staticmethod
        def check_read(name: str, answer: Answer, wanted: tuple[str | None, Any]) -> None:
            code, body = wanted
            assert answer.code == code, (name, answer, code)
            if body is not None:
                assert subset(answer.body, body) == body

        @staticmethod
        def check_rows(answer: Answer, wanted: tuple[str | None, Any]) -> None:
            code, rows = wanted
            assert answer.code == code, (answer, code)
            if rows is not None:
                assert [subset(a, w) for a, w in zip(answer.body, rows, strict=False)] == rows
                assert len(answer.body) == len(rows), (answer.body, rows)

        def check_positions(self, events: list[Any]) -> None:
            """A command answers the position of the spec's last event, changed or not,
            and a spec's events stand in the log in the order they happened."""
            positions = [event["position"] for event in events]
            assert positions == sorted(set(positions)), positions
            if self.position is not None:
                assert self.position == positions[-1], (self.position, positions)
            self.position = None

    return LifecycleMachine
