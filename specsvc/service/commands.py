"""The command half of ``SpecService``: check the input, then get -> command -> save."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from specsvc.application import KeyAnswered, Remember, SpecApplication, store_errors
from specsvc.auth import same_person
from specsvc.config import Settings
from specsvc.content import ParsedContent, parse_content
from specsvc.domainmodel import Spec
from specsvc.errors import SeparationOfDuties, Unavailable, ValidationError
from specsvc.observability.logs import logged_command
from specsvc.service import inputs
from specsvc.service.consistency import Consistency
from specsvc.service.idempotency import Idempotency
from specsvc.service.resources import CommandResult, spec_resource
from specsvc.spectypes import SpecTypeRegistry

KEY_RACE_ATTEMPTS = 5


class SpecCommands:
    _app: SpecApplication
    _consistency: Consistency
    _types: SpecTypeRegistry
    settings: Settings

    @logged_command("create")
    def create_spec(
        self,
        name: str,
        type: str,
        content: str,
        *,
        actor: str,
        reason: str | None = None,
        correlation_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        spec = Spec(
            name=inputs.new_name(name),
            type=inputs.known_type(type, self._types),
            content=self._checked_content(type, content),
            actor=inputs.actor(actor),
            correlation_id=inputs.correlation_id(correlation_id),
            reason=inputs.reason(reason, required=False),
        )
        arguments = {"name": name, "type": type, "content": _text(content), "reason": reason}

        def create(remember: Remember | None) -> CommandResult:
            return self._answer(spec, self._app.create(spec, remember), changed=True)

        return self._once(idempotency_key, spec.created_by, "create", arguments, create)

    @logged_command("update")
    def update_spec(
        self,
        name: str,
        content: str,
        *,
        actor: str,
        reason: str | None,
        expected_version: int | None = None,
        correlation_id: str | None = None,
        expected_revision: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        name = inputs.existing_name(name)
        if expected_version is not None:
            inputs.positive_int(expected_version, "expected_version")
        meta = self._meta(actor, reason, correlation_id)

        def update(spec: Spec) -> bool:
            # Not found, then a forbidden state, then bad content: the most basic error wins.
            spec.check_allowed("update")
            self._check_type(spec.type, self._parsed(content).data)
            return spec.update(_text(content), **meta)

        arguments = {
            "name": name,
            "content": content if isinstance(content, str) else repr(content),
            "reason": meta["reason"],
            "expected_version": expected_version,
            "expected_revision": expected_revision,
        }
        return self._change(
            name,
            update,
            expected_version=expected_version,
            expected_revision=expected_revision,
            once=(idempotency_key, meta["actor"], "update", arguments),
        )

    @logged_command("publish")
    def publish_spec(
        self,
        name: str,
        *,
        actor: str,
        reason: str | None,
        version: int | None = None,
        correlation_id: str | None = None,
        expected_revision: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        name = inputs.existing_name(name)
        if version is not None:
            inputs.positive_int(version, "version")
        meta = self._meta(actor, reason, correlation_id)

        def publish(spec: Spec) -> bool:
            target = spec.publish_target(version)
            if self.settings.four_eyes:
                self._check_four_eyes(spec, target, meta["actor"])
            return spec.publish(target, **meta)

        arguments = {
            "name": name,
            "reason": meta["reason"],
            "version": version,
            "expected_revision": expected_revision,
        }
        return self._change(
            name,
            publish,
            expected_revision=expected_revision,
            once=(idempotency_key, meta["actor"], "publish", arguments),
        )

    @logged_command("deprecate")
    def deprecate_spec(
        self,
        name: str,
        *,
        actor: str,
        reason: str | None,
        correlation_id: str | None = None,
        expected_revision: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        meta = self._meta(actor, reason, correlation_id)
        arguments = {"name": name, "reason": meta["reason"], "expected_revision": expected_revision}
        return self._change(
            inputs.existing_name(name),
            lambda spec: spec.deprecate(**meta),
            expected_revision=expected_revision,
            once=(idempotency_key, meta["actor"], "deprecate", arguments),
        )

    @logged_command("delete")
    def delete_spec(
        self,
        name: str,
        *,
        actor: str,
        reason: str | None,
        correlation_id: str | None = None,
        expected_revision: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        meta = self._meta(actor, reason, correlation_id)
        arguments = {"name": name, "reason": meta["reason"], "expected_revision": expected_revision}
        return self._change(
            inputs.existing_name(name),
            lambda spec: spec.delete(**meta),
            expected_revision=expected_revision,
            once=(idempotency_key, meta["actor"], "delete", arguments),
        )

    def _change(
        self,
        name: str,
        command: Callable[[Spec], bool],
        *,
        expected_version: int | None = None,
        expected_revision: int | None = None,
        once: tuple[str | None, str, str, dict[str, Any]],
    ) -> dict[str, Any]:
        if expected_revision is not None:
            inputs.positive_int(expected_revision, "expected_revision")

        def change(remember: Remember | None) -> CommandResult:
            spec, position, changed = self._app.change(
                name,
                command,
                expected_version=expected_version,
                expected_revision=expected_revision,
                remember=remember,
            )
            return self._answer(spec, position, changed=changed)

        return self._once(*once, change)

    def _once(
        self,
        key: str | None,
        principal: str,
        command: str,
        arguments: dict[str, Any],
        run: Callable[[Remember | None], CommandResult],
    ) -> CommandResult:
        """Run the command, or with an idempotency key, answer as it was first answered."""
        if key is None:
            return self._acknowledged(run(None))
        once = Idempotency.of(
            key,
            principal,
            command,
            arguments,
            self.settings.idempotency_retention,
            self._app.content_sealer,
        )
        for _ in range(KEY_RACE_ATTEMPTS):
            with store_errors():
                recalled = once.recalled(self._app)
            if recalled is not None:
                return self._acknowledged(recalled)
            try:
                return self._acknowledged(run(once.remember))
            except KeyAnswered:
                continue  # a concurrent request with this key was answered first
        raise Unavailable("the request with this idempotency key is still being answered")

    def _acknowledged(self, result: CommandResult) -> CommandResult:
        # Reads through this process now wait for this position by default.
        self._consistency.acknowledge(result["position"])
        return result

    @staticmethod
    def _answer(spec: Spec, position: int, *, changed: bool) -> CommandResult:
        return CommandResult({**spec_resource(spec), "position": position}, changed=changed)

    @staticmethod
    def _meta(actor: str, reason: str | None, correlation_id: str | None) -> dict[str, Any]:
        return {
            "actor": inputs.actor(actor),
            "reason": inputs.reason(reason, required=True),
            "correlation_id": inputs.correlation_id(correlation_id),
        }

    def _checked_content(self, type_name: str, content: Any) -> str:
        self._check_type(type_name, self._parsed(content).data)
        return _text(content)

    def _parsed(self, content: Any) -> ParsedContent:
        if not isinstance(content, (str, bytes)):
            raise ValidationError(
                "content must be YAML text",
                errors=[{"path": "/content", "message": "must be a string"}],
            )
        return parse_content(content, max_bytes=self.settings.max_spec_bytes)

    def _check_type(self, type_name: str, data: dict[str, Any]) -> None:
        problems = self._types.get(type_name).validate(data)
        if problems:
            raise ValidationError(f"content is not a valid {type_name} spec", errors=problems)

    def _check_four_eyes(self, spec: Spec, version: int, publisher: str) -> None:
        author = self._app.content_event(spec, version).actor
        if same_person(author, publisher):
            raise SeparationOfDuties(
                f"{publisher!r} wrote version {version} of {spec.name!r} and may not publish it",
                details={"name": spec.name, "version": version, "author": author},
            )


def _text(content: str | bytes) -> str:
    # parse_content has already proven bytes to be strict UTF-8.
    return content.decode("utf-8") if isinstance(content, bytes) else content
