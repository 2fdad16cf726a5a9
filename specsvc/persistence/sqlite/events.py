"""The event store: the library's SQLite recorder plus the spec timeline, one transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from specsvc.persistence import chain, sql
from specsvc.persistence.chain import ChainedLog, Link
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

class SpecEventRecorder(ChainedLog, SQLiteApplicationRecorder, TimelineQueries):
    """The event store, plus the spec timeline and the hash chain written in the same
    transaction."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            *TIMELINE_TABLE,
            *IDEMPOTENCY_TABLE,
            IDENTITY_TABLE,
            *chain.TABLES["sqlite"],
        ]

    def create_table(self) -> None:
        super().create_table()
        # The identity is written once, in a transaction of its own.
        if self._scalar(sql.STORE_ID, {}) is None:
            with self.datastore.transaction(commit=True) as c:
                c.execute(sql.NEW_STORE_ID, {"id": uuid4().hex})
        self.ensure_chain()

    def _chain_existing(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(chain.CONFIG)
            row = c.fetchone()
            if row is not None:  # another process chained it first
                self.chain.check_config(row[0], row[1])
                return
            c.execute(chain.NEW_CONFIG, self.chain.config_params())
            c.execute(
                f"SELECT rowid, originator_id, originator_version, topic, state"
                f" FROM {self.events_table_name} ORDER BY rowid"
            )
            c.executemany(chain.INSERT_LINK, self.chain.chained_existing(c.fetchall()))

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # The library commits each caller's events alone; concurrent commands share one
        # commit here (DurableDatastore.grouped).
        return self._durable.grouped(lambda c: self._insert_events(c, stored_events, **kwargs))

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        timeline: list[TimelineEntry] = kwargs.get("spec_timeline", [])
        for row in sql.timeline_rows(stored_events, positions or (), timeline):
            c.execute(sql.INSERT_TIMELINE, row)
        if positions:
            # Inside the write transaction: SQLite's one writer keeps the chain linear.
            c.execute(chain.LAST_LINK)
            rows = self.chain.rows_after(c.fetchone(), positions, stored_events)
            c.executemany(chain.INSERT_LINK, rows)
        answer: RememberedAnswer | None = kwargs.get("idempotency")
        if answer is not None and positions:
            self._insert_answer(c, answer, positions[-1])
        return positions

    def _window_rows(
        self, window: tuple[bool, bool, bool, bool], params: dict[str, Any]
    ) -> list[Sequence[Any]]:
        statement = chain.select_checked_sql(self.events_table_name, "rowid", *window)
        originator_id = params["id"]
        key = originator_id.hex if isinstance(originator_id, UUID) else originator_id
        return self._durable.select(statement, {**params, "id": key})

    def insert_at_positions(
        self,
        events: Iterable[PositionedEvent],
        *,
        store_id: str | None = None,
        answers: Iterable[RememberedAnswer] = (),
    ) -> None:
        # SQLite takes an explicit rowid, so every event keeps its exported position; the
        # chain is computed again over the copy (the caller checked the source's).
        with self.datastore.transaction(commit=True) as c:
            c.execute(chain.LAST_LINK)
            row = c.fetchone()
            last = None if row is None else Link.from_row(row)
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
                links = list(self.chain.links(last, ((e.position, e.stored) for e in chunk)))
                c.executemany(chain.INSERT_LINK, [link.params() for link in links])
                last = links[-1] if links else last
            if store_id is not None:
                c.execute(sql.ADOPT_STORE_ID, {"id": store_id})
            for answer in answers:
                c.execute(sql.REMEMBER, sql.kept_answer_params(answer))

    def record_checkpoint(self, position: int, digest: bytes) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(chain.NEW_CHECKPOINT, chain.checkpoint_params(position, digest))

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

    def max_notification_id(self) -> int:
        # Asked before every latest read of a spec: one SELECT, without the library's
        # BEGIN and ROLLBACK around it.
        rows = self._durable.select(self.select_max_notification_id_statement)
        return int(rows[0][0] or 0) if rows else 0

    def _fetch_all(self, statement: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._durable.select(statement, params)]

    @property
    def _durable(self) -> DurableDatastore:
        assert isinstance(self.datastore, DurableDatastore)
        return self.datastore


