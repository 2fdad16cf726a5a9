"""The query half of ``SpecService``: read models for lists, the event store for state."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from specsvc.application import SpecApplication
from specsvc.cache import PUBLISHED, SPEC, QueryCache
from specsvc.config import Settings
from specsvc.content.diffing import diff_contents
from specsvc.content.intake import parse_content
from specsvc.domainmodel import spec_id
from specsvc.errors import (
    BadRequest,
    PayloadTooLarge,
    SpecDeleted,
    SpecNotFound,
    SpecNotPublished,
    ValidationError,
    VersionNotFound,
)
from specsvc.observability.metrics import CACHE_HITS, CACHE_MISSES
from specsvc.persistence.interfaces import (
    EventQuery,
    ReadModelAltered,
    SpecReadModelRecorder,
    SummaryQuery,
)
from specsvc.runners.monitor import ProjectionMonitor
from specsvc.service import consistency, inputs
from specsvc.service.consistency import Consistency
from specsvc.service.memo import PositionMemo
from specsvc.service.resources import (
    published_resource,
    spec_resource,
    summary_resource,
    version_resource,
)
from specsvc.service.slots import Slots
from specsvc.spectypes import SpecTypeRegistry


class SpecQueries:
    _app: SpecApplication
    _cache: QueryCache
    _consistency: Consistency
    _monitor: ProjectionMonitor
    _published_memo: PositionMemo
    _spec_memo: PositionMemo
    _evaluations: Slots
    _read_model: SpecReadModelRecorder
    _types: SpecTypeRegistry
    settings: Settings

    def get_spec(
        self,
        name: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
        min_position: int | None = None,
    ) -> dict[str, Any]:
        """The spec now, as it stood when ``version`` was written, or ``as_of`` an instant.

        Read from the event store, which holds every acknowledged write: ``min_position``
        is checked, never waited for."""
        name = inputs.existing_name(name)
        consistency.min_position(min_position)
        if version is not None and as_of is not None:
            raise BadRequest("give version or as_of, not both")
        moment = inputs.instant(as_of, "as_of")
        if moment is not None:
            return spec_resource(self._app.get_as_of(name, moment))
        if version is None and self._cache.enabled:
            resource = self._read_through(
                SPEC,
                name,
                min_position,
                lambda _: spec_resource(self._app.get(name)),
                from_read_models=False,
            )
            assert resource is not None  # a spec that is not found raises
            return resource
        if version is None:
            # Read before the events: a state kept at this head of the log is current.
            key, head = spec_id(name), self._app.head()
            kept = self._spec_memo.get(key, head, self._app.timeline.last_position)
            if kept is None:
                kept = spec_resource(self._app.get(name))
                self._spec_memo.put(key, head, kept)
            return kept
        spec = self._app.get(name)
        self._check_version(name, inputs.positive_int(version, "version"), spec.content_version)
        event = self._app.content_event(spec, version)
        return spec_resource(self._app.get(name, event.originator_version))

    def get_published(
        self, name: str, *, as_of: datetime | None = None, min_position: int | None = None
    ) -> dict[str, Any]:
        """What consumers are served now, or were served at ``as_of``."""
        name = inputs.existing_name(name)
        moment = inputs.instant(as_of, "as_of")
        if moment is not None:
            consistency.min_position(min_position)
            return self._published_as_of(name, moment)
        key = spec_id(name)
        position = None
        if self._cache.enabled:
            row = self._read_through(
                PUBLISHED, name, min_position, self._published_row, from_read_models=True
            )
        else:
            # Read before the rows: an answer kept at this position is still current.
            position = self._consistency.read_models(min_position)
            kept = self._published_memo.get(key, position, self._app.timeline.last_position)
            if kept is not None:
                return kept
            row = self._published_row(key)
        if row is None:
            raise SpecNotFound(f"spec {name!r} not found", details={"name": name})
        self._check_servable(name, row["state"], row["published_version"])
        answer = published_resource(
            name,
            row["type"],
            row["published_version"],
            row["content"],
            row["state"],
            row["published_at"],
        )
        if position is not None:
            self._published_memo.put(key, position, answer)
        return answer

    # The query cache (docs/behaviour.md, Query cache): an entry answers a read only when
    # its position is at least the one the read needs; a miss reads the store and offers
    # what it read, tagged with the position the read models had reached before reading.

    def _read_through(
        self,
        kind: str,
        name: str,
        min_position: int | None,
        read: Callable[[UUID], dict[str, Any] | None],
        *,
        from_read_models: bool,
    ) -> dict[str, Any] | None:
        key = spec_id(name)
        lookup = self._cache.get(kind, key)
        if lookup is not None and lookup.serves(self._consistency.needed(min_position)):
            CACHE_HITS.labels(kind).inc()
            return cast(dict[str, Any], lookup.value)
        CACHE_MISSES.labels(kind).inc()
        if from_read_models:
            self._consistency.read_models(min_position)
        position = self._monitor.projected_position()
        value = read(key)
        if value is not None:
            self._cache.put(kind, key, position, value, lookup)
        return value

    def _published_row(self, key: UUID) -> dict[str, Any] | None:
        with self._app.read_models_checked():
            row = self._read_model.select_published(key)
            if row is None:  # as in _summary
                projected = self._monitor.projected_position()
                row = self._read_model.select_published(key)
        if row is None:
            self._app.read_model_lacks(key, projected)
        return row

    def _published_as_of(self, name: str, moment: datetime) -> dict[str, Any]:
        spec = self._app.get_as_of(name, moment)
        self._check_servable(name, spec.state, spec.published_version)
        version = spec.published_version
        assert version is not None
        if version == spec.content_version:
            content = spec.content
        else:
            content = self._app.content_event(spec, version).content
        return published_resource(name, spec.type, version, content, spec.state, spec.published_at)

    def list_specs(
        self,
        *,
        state: str | None = None,
        type: str | None = None,
        name_prefix: str | None = None,
        limit: int = 50,
        page_token: str | None = None,
        min_position: int | None = None,
    ) -> dict[str, Any]:
        filters = [
            inputs.state(state),
            inputs.optional_text(type, "type", 128),
            inputs.optional_text(name_prefix, "name_prefix", 128),
        ]
        limit = inputs.limit(limit)
        query = SummaryQuery(
            state, type, name_prefix, inputs.decode_page_token(page_token, filters), limit + 1
        )
        self._consistency.read_models(min_position)
        with self._app.read_models_checked():
            rows = self._read_model.select_summaries(query)
        next_token = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_token = inputs.encode_page_token(rows[-1]["name"], filters)
        return {"specs": [summary_resource(r) for r in rows], "next_page_token": next_token}

    def list_versions(self, name: str, *, min_position: int | None = None) -> dict[str, Any]:
        summary = self._summary(name, min_position)
        with self._app.read_models_checked():
            rows = self._read_model.select_versions(spec_id(name))
            reaches(summary, len(rows), "version", "version")
        return {"versions": [version_resource(r, with_content=False) for r in rows]}

    def get_version(
        self, name: str, version: int, *, min_position: int | None = None
    ) -> dict[str, Any]:
        row = self._version_row(name, version, min_position)
        return {"name": name, **version_resource(row, with_content=True)}

    def diff(
        self, name: str, from_version: int, to_version: int, *, min_position: int | None = None
    ) -> dict[str, Any]:
        old = self._version_row(name, from_version, min_position)
        new = self._version_row(name, to_version)
        return diff_contents(
            name,
            from_version,
            old["content"],
            _data(old["content"]),
            to_version,
            new["content"],
            _data(new["content"]),
        )

    def history(self, name: str, *, min_position: int | None = None) -> dict[str, Any]:
        summary = self._summary(name, min_position)
        with self._app.read_models_checked():
            events = self._read_model.select_history(spec_id(name))
            reaches(summary, len(events), "revision", "event")
        return {"events": events}

    def list_events(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        actor: str | None = None,
        spec: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        min_position: int | None = None,
    ) -> dict[str, Any]:
        """The global audit log in commit order, after a position, filtered."""
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise BadRequest("after must be a non-negative integer")
        query = EventQuery(
            after=after,
            limit=inputs.limit(limit),
            actor=inputs.optional_text(actor, "actor"),
            spec_id=spec_id(inputs.optional_text(spec, "spec") or "") if spec else None,
            since=inputs.instant(since, "since"),
            until=inputs.instant(until, "until"),
        )
        self._consistency.read_models(min_position)
        with self._app.read_models_checked():
            events = self._read_model.select_audit(query)
        return {"events": events, "next_after": events[-1]["position"] if events else after}

    def validate(self, type: str, content: str) -> dict[str, Any]:
        """Dry run: would this content be accepted for this type? Writes nothing."""
        spec_type = self._types.get(inputs.known_type(type, self._types))
        if not isinstance(content, (str, bytes)):
            raise ValidationError("content must be YAML text")
        try:
            data = parse_content(content, max_bytes=self.settings.max_spec_bytes).data
        except ValidationError as error:
            return {"valid": False, "errors": error.errors}
        problems = spec_type.validate(data)
        return {"valid": not problems, "errors": problems}

    def evaluate(
        self,
        name: str,
        input: Any,
        *,
        version: int | None = None,
        min_position: int | None = None,
    ) -> dict[str, Any]:
        """Evaluate a regex-rules spec: the published version by default, else the latest."""
        summary = self._summary(name, min_position)
        if summary["state"] == "deleted":
            raise SpecDeleted(f"spec {name!r} is deleted", details={"name": name})
        spec_type = self._types.get(summary["type"])
        if spec_type.evaluate is None:
            raise ValidationError(f"specs of type {spec_type.name!r} cannot be evaluated")
        size = _json_size(input) if isinstance(input, dict) else None
        if size is None:
            raise ValidationError(
                "input must be a mapping of JSON values with valid Unicode text",
                errors=[{"path": "/input", "message": "not a mapping of valid JSON values"}],
            )
        limit = self.settings.max_evaluate_bytes
        if size > limit:
            raise PayloadTooLarge(
                f"the input is {size} bytes as JSON, over the limit of {limit}",
                details={"limit": limit, "size": size},
            )
        chosen = version if version is not None else summary["published_version"]
        row = self._version_row(name, summary["version"] if chosen is None else chosen)
        data = _data(row["content"])
        if data is None:
            raise ValidationError(f"version {row['version']} of {name!r} no longer parses")
        with self._evaluations.slot():
            outcome = spec_type.evaluate(data, input)
        return {"result": outcome["result"], "version": row["version"], "trace": outcome["trace"]}

    def list_types(self) -> dict[str, Any]:
        return {"types": [t.to_dict() for t in self._types.list()]}

    def get_type(self, name: str) -> dict[str, Any]:
        return self._types.get(name).to_dict()

    def _summary(self, name: str, min_position: int | None = None) -> dict[str, Any]:
        name = inputs.existing_name(name)
        self._consistency.read_models(min_position)
        key = spec_id(name)
        with self._app.read_models_checked():
            summary = self._read_model.select_summary(key)
            if summary is None:
                # Read again after the position it must reflect: a spec created at or
                # before it and still without a summary lost its row on disk.
                projected = self._monitor.projected_position()
                summary = self._read_model.select_summary(key)
        if summary is None:
            self._app.read_model_lacks(key, projected)
            raise SpecNotFound(f"spec {name!r} not found", details={"name": name})
        return summary

    def _version_row(
        self, name: str, version: Any, min_position: int | None = None
    ) -> dict[str, Any]:
        summary = self._summary(name, min_position)
        self._check_version(name, inputs.positive_int(version, "version"), summary["version"])
        with self._app.read_models_checked():
            row = self._read_model.select_version(spec_id(name), version)
            if row is None:
                key = spec_id(name)
                raise ReadModelAltered(
                    f"the read models lack version {version} of spec {key}",
                    str(key),
                    version=version,
                )
        return row

    @staticmethod
    def _check_version(name: str, version: int, latest: int) -> None:
        if version > latest:
            raise VersionNotFound(
                f"spec {name!r} has no version {version}",
                details={"name": name, "version": version},
            )

    @staticmethod
    def _check_servable(name: str, state: str, published_version: int | None) -> None:
        if state == "deleted":
            raise SpecDeleted(f"spec {name!r} is deleted", details={"name": name})
        if published_version is None:
            raise SpecNotPublished(
                f"spec {name!r} has never been published", details={"name": name}
            )


def reaches(summary: dict[str, Any], count: int, column: str, noun: str) -> None:
    """ReadModelAltered unless a spec's gapless rows (read after its summary, so never
    fewer) reach the summary's last ``column``: the last ones were deleted on disk."""
    if count < summary[column]:
        raise ReadModelAltered(
            f"the read models lack {noun} {count + 1} of spec {summary['id']}",
            summary["id"],
            count + 1 if noun == "event" else None,
            version=count + 1 if noun == "version" else None,
        )


def _json_size(value: Any) -> int | None:
    """The UTF-8 size of ``value`` as JSON, or None when it is not JSON with valid text."""
    try:
        return len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8"))
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return None


def _data(content: str) -> dict[str, Any] | None:
    # Stored content was valid when written; limits may have changed since.
    try:
        return parse_content(content, max_bytes=len(content.encode("utf-8"))).data
    except ValidationError:
        return None
