"""The event store: the library's SQLite recorder plus the spec timeline, one transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from specsvc.persistence import sql
from specsvc.persistence.interfaces import (
    PositionedEvent,
    RememberedAnswer,
    TimelineEntry,
    to_micros,
)
from specsvc.persistence.sql import TimelineQueries
from specsvc.persistence.sqlite.datastore import DurableDatastore
from specsvc.persistence.sqlite.schema import IDEMPOTENCY_TABLE, IDENTITY_TABLE, TIMELINE_TABLE

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from eventsourcing.persistence import StoredEvent


class SpecEventRecorder(SQLiteApplicationRecorder, TimelineQueries):
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
        if self._scalar(sql.STORE_ID, {}) is None:
            with self.datastore.transaction(commit=True) as c:
                c.execute(sql.NEW_STORE_ID, {"id": uuid4().hex})

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        timeline: list[TimelineEntry] = kwargs.get("spec_timeline", [])
        for row in sql.timeline_rows(stored_events, positions or (), timeline):
            c.execute(sql.INSERT_TIMELINE, row)
        answer: RememberedAnswer | None = kwargs.get("idempotency")
        if answer is not None and positions:
            self._insert_answer(c, answer, positions[-1])
        return positions

    def insert_at_positions(
        self,
        events: Iterable[PositionedEvent],
        *,
        store_id: str | None = None,
        answers: Iterable[RememberedAnswer] = (),
    ) -> None:
        # SQLite takes an explicit rowid, so every event keeps its exported position.
        with self.datastore.transaction(commit=True) as c:
            for chunk in sql.chunks(events, sql.COPY_CHUNK):
                c.executemany(
                    f"INSERT INTO {self.events_table_name}"
                    " (rowid, originator_id, originator_version, topic, state)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [
                        (
                            event.position,
                            UUID(str(event.stored.originator_id)).hex,
                            event.stored.originator_version,
                            event.stored.topic,
                            event.stored.state,
                        )
                        for event in chunk
                    ],
                )
                c.executemany(
                    sql.INSERT_TIMELINE,
                    [sql.timeline_params(event.timeline, event.position) for event in chunk],
                )
            if store_id is not None:
                c.execute(sql.ADOPT_STORE_ID, {"id": store_id})
            for answer in answers:
                c.execute(sql.REMEMBER, sql.kept_answer_params(answer))

    def remember(self, answer: RememberedAnswer) -> None:
        assert answer.position is not None, "an answer kept without events names its position"
        with self.datastore.transaction(commit=True) as c:
            self._insert_answer(c, answer, answer.position)

    @staticmethod
    def _insert_answer(c: SQLiteCursor, answer: RememberedAnswer, position: int) -> None:
        # An expired key may be used again: its old row goes (IntegrityError for a live
        # one tells the caller that someone else answered under it first).
        c.execute(sql.FORGET_EXPIRED, {"cutoff": to_micros(answer.expired_before)})
        c.execute(sql.REMEMBER, sql.answer_params(answer, position))

    def describe(self) -> dict[str, Any]:
        assert isinstance(self.datastore, DurableDatastore)
        return self.datastore.describe()

    def _fetch_all(self, statement: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [tuple(row) for row in c.fetchall()]
