"""The event store: the library's SQLite recorder plus the spec timeline, one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from specsvc.persistence.interfaces import (
    PositionedEvent,
    RememberedAnswer,
    SpecTimelineRecorder,
    TimelineEntry,
    from_micros,
    to_micros,
)
from specsvc.persistence.sqlite.datastore import DurableDatastore
from specsvc.persistence.sqlite.schema import (
    IDEMPOTENCY_TABLE,
    IDENTITY_TABLE,
    TIMELINE_TABLE,
    identity_rows,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from eventsourcing.persistence import StoredEvent


class SpecEventRecorder(SQLiteApplicationRecorder, SpecTimelineRecorder):
    """The event store, plus the spec timeline written in the same transaction."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            *TIMELINE_TABLE,
            *IDEMPOTENCY_TABLE,
            IDENTITY_TABLE,
        ]

    def create_table(self) -> None:
        super().create_table()
        # The identity is written once, in a transaction of its own whose first statement
        # is the write: reading first would make a busy store refuse the upgrade at once.
        if self._scalar("SELECT id FROM store_identity", ()) is None:
            with self.datastore.transaction(commit=True) as c:
                c.execute(identity_rows(uuid4().hex))

    def store_id(self) -> str:
        return str(self._scalar("SELECT id FROM store_identity", ()))

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        timeline: list[TimelineEntry] = kwargs.get("spec_timeline", [])
        by_key = {(e.spec_id.hex, e.sequence): e for e in timeline}
        for stored, position in zip(stored_events, positions or (), strict=True):
            entry = by_key.get((UUID(str(stored.originator_id)).hex, stored.originator_version))
            if entry is not None:
                self._insert_timeline(c, entry, position)
        answer: RememberedAnswer | None = kwargs.get("idempotency")
        if answer is not None and positions:
            self._insert_answer(c, answer, positions[-1])
        return positions

    def recall(self, principal: str, key: str, since: datetime) -> RememberedAnswer | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT request_sha256, answer, position, recorded_at FROM idempotency_keys"
                " WHERE principal=? AND key=? AND recorded_at>=?",
                (principal, key, to_micros(since)),
            )
            row = c.fetchone()
        if row is None:
            return None
        digest, answer, position, recorded = row
        moment = from_micros(recorded)
        return RememberedAnswer(principal, key, digest, answer, moment, since, position)

    def remember(self, answer: RememberedAnswer) -> None:
        assert answer.position is not None, "an answer kept without events names its position"
        with self.datastore.transaction(commit=True) as c:
            self._insert_answer(c, answer, answer.position)

    @staticmethod
    def _insert_answer(c: SQLiteCursor, answer: RememberedAnswer, position: int) -> None:
        # A key that has expired may be used again: its old row goes (IntegrityError for
        # a live one tells the caller that someone else answered under it first).
        cutoff = to_micros(answer.expired_before)
        c.execute("DELETE FROM idempotency_keys WHERE recorded_at < ?", (cutoff,))
        c.execute(
            "INSERT INTO idempotency_keys VALUES (?, ?, ?, ?, ?, ?)",
            (
                answer.principal,
                answer.key,
                answer.request_sha256,
                answer.answer,
                position,
                to_micros(answer.recorded_at),
            ),
        )

    def insert_at_positions(self, events: Sequence[PositionedEvent]) -> None:
        # SQLite takes an explicit rowid, so every event keeps its exported position.
        with self.datastore.transaction(commit=True) as c:
            for event in events:
                stored = event.stored
                c.execute(
                    f"INSERT INTO {self.events_table_name}"
                    " (rowid, originator_id, originator_version, topic, state)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        event.position,
                        UUID(str(stored.originator_id)).hex,
                        stored.originator_version,
                        stored.topic,
                        stored.state,
                    ),
                )
                self._insert_timeline(c, event.timeline, event.position)

    @staticmethod
    def _insert_timeline(c: SQLiteCursor, entry: TimelineEntry, position: int) -> None:
        c.execute(
            "INSERT INTO spec_timeline VALUES (?, ?, ?, ?, ?)",
            (
                entry.spec_id.hex,
                entry.sequence,
                position,
                to_micros(entry.timestamp),
                entry.content_version,
            ),
        )

    def position_of(self, spec_id: UUID, sequence: int) -> int | None:
        return self._scalar(
            "SELECT position FROM spec_timeline WHERE spec_id=? AND sequence=?",
            (spec_id.hex, sequence),
        )

    def sequence_of_version(self, spec_id: UUID, content_version: int) -> int | None:
        return self._scalar(
            "SELECT MIN(sequence) FROM spec_timeline WHERE spec_id=? AND content_version=?",
            (spec_id.hex, content_version),
        )

    def sequence_at(self, spec_id: UUID, moment: datetime) -> int | None:
        return self._scalar(
            "SELECT MAX(sequence) FROM spec_timeline WHERE spec_id=? AND timestamp<=?",
            (spec_id.hex, to_micros(moment)),
        )

    def describe(self) -> dict[str, Any]:
        assert isinstance(self.datastore, DurableDatastore)
        return self.datastore.describe()

    def _scalar(self, statement: str, params: tuple[Any, ...]) -> Any:
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            row = c.fetchone()
            return None if row is None else row[0]
