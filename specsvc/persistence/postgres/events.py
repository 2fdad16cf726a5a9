"""The event store on PostgreSQL: eventsourcing-sqlalchemy's recorder, extended as the
library's examples extend theirs, with the spec timeline and idempotency answers written
in the events' own transaction (under the library's table lock, in commit order)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import ApplicationRecorder, StoredEvent, Subscription
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from specsvc.persistence import chain, sql
from specsvc.persistence.chain import ChainedLog, Link
from specsvc.persistence.interfaces import (
    PositionedEvent,
    RememberedAnswer,
    to_micros,
)
from specsvc.persistence.postgres.connections import shown
from specsvc.persistence.postgres.schema import EVENT_STORE_TABLES
from specsvc.persistence.postgres.selects import PlainSelects
from specsvc.persistence.postgres.subscription import PromptSubscription
from specsvc.persistence.sql import TimelineQueries


class SpecEventRecorder(ChainedLog, PlainSelects, SQLAlchemyApplicationRecorder, TimelineQueries):
    """The event store, plus the spec timeline and the hash chain written in the same
    transaction."""

    url = ""  # set by the factory: where the store lives, for reports and connections

    def create_table(self) -> None:
        super().create_table()
        with self.transaction(commit=True) as session:
            for statement in [*EVENT_STORE_TABLES, *chain.TABLES["postgres"]]:
                session.execute(text(statement))
        if self._scalar(sql.STORE_ID, {}) is None:
            with self.transaction(commit=True) as session:
                session.execute(text(sql.NEW_STORE_ID), {"id": uuid4().hex})
        self.ensure_chain()

    def _chain_existing(self) -> None:
        with self.transaction(commit=True) as session:
            self._lock_table(session)
            row = session.execute(text(chain.CONFIG)).fetchone()
            if row is not None:  # another process chained it first
                self.chain.check_config(row[0], row[1])
                return
            session.execute(text(chain.NEW_CONFIG), self.chain.config_params())
            rows = session.execute(
                text(
                    "SELECT id, originator_id, originator_version, topic, state"
                    f" FROM {self.events_table_name} ORDER BY id"
                )
            ).fetchall()
            links = self.chain.chained_existing(rows)
            if links:
                session.execute(text(chain.INSERT_LINK), links)

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        positions = super()._insert_stored_events(session, stored_events, **kwargs)
        rows = sql.timeline_rows(stored_events, positions, kwargs.get("spec_timeline", []))
        if rows:
            session.execute(text(sql.INSERT_TIMELINE), rows)
        if positions:
            # Under the library's table lock: the chain stays linear across writers.
            last = session.execute(text(chain.LAST_LINK)).fetchone()
            rows = self.chain.rows_after(last, positions, stored_events)
            session.execute(text(chain.INSERT_LINK), rows)
        answer: RememberedAnswer | None = kwargs.get("idempotency")
        if answer is not None and positions:
            self._insert_answer(session, answer, positions[-1])
        return positions

    def insert_at_positions(
        self,
        events: Iterable[PositionedEvent],
        *,
        store_id: str | None = None,
        answers: Iterable[RememberedAnswer] = (),
    ) -> None:
        # Each event keeps its exported position; the sequence then continues past them.
        # The chain is computed again over the copy (the caller checked the source's).
        table = self.events_table_name
        with self.transaction(commit=True) as session:
            self._lock_table(session)
            row = session.execute(text(chain.LAST_LINK)).fetchone()
            last = None if row is None else Link.from_row(row)
            for chunk in sql.chunks(events, sql.COPY_CHUNK):
                session.execute(
                    text(
                        f"INSERT INTO {table} (id, originator_id, originator_version, topic,"
                        " state) VALUES (:id, :originator_id, :version, :topic, :state)"
                    ),
                    [
                        {
                            "id": event.position,
                            "originator_id": UUID(str(event.stored.originator_id)),
                            "version": event.stored.originator_version,
                            "topic": event.stored.topic,
                            "state": event.stored.state,
                        }
                        for event in chunk
                    ],
                )
                session.execute(
                    text(sql.INSERT_TIMELINE),
                    [sql.timeline_params(event.timeline, event.position) for event in chunk],
                )
                links = list(self.chain.links(last, ((e.position, e.stored) for e in chunk)))
                if links:
                    session.execute(text(chain.INSERT_LINK), [link.params() for link in links])
                    last = links[-1]
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" GREATEST((SELECT MAX(id) FROM {table}), 1))"
                )
            )
            if store_id is not None:
                session.execute(text(sql.ADOPT_STORE_ID), {"id": store_id})
            for answer in answers:
                session.execute(text(sql.REMEMBER), sql.kept_answer_params(answer))
            self._notify_channel(session)

    def _window_rows(
        self, window: tuple[bool, bool, bool, bool], params: dict[str, Any]
    ) -> list[Sequence[Any]]:
        cache: dict[Any, TextClause] = self.__dict__.setdefault("_checked", {})
        statement = cache.get(window)
        if statement is None:
            table = self.events_record_cls.__table__.fullname
            statement = cache[window] = text(chain.select_checked_sql(table, "id", *window))
        return self._plain_rows(statement, params)

    def record_checkpoint(self, position: int, digest: bytes) -> None:
        with self.transaction(commit=True) as session:
            session.execute(text(chain.NEW_CHECKPOINT), chain.checkpoint_params(position, digest))

    def remember(self, answer: RememberedAnswer) -> None:
        assert answer.position is not None, "an answer kept without events names its position"
        with self.transaction(commit=True) as session:
            self._insert_answer(session, answer, answer.position)

    @staticmethod
    def _insert_answer(session: Session, answer: RememberedAnswer, position: int) -> None:
        session.execute(text(sql.FORGET_EXPIRED), {"cutoff": to_micros(answer.expired_before)})
        session.execute(text(sql.REMEMBER), sql.answer_params(answer, position))

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return PromptSubscription(recorder=self, gt=gt, topics=topics)

    def describe(self) -> dict[str, Any]:
        return {
            "database": shown(self.url),
            "synchronous_commit": self._scalar("SHOW synchronous_commit", {}),
            "fsync": self._scalar("SHOW fsync", {}),
        }

    def _fetch_all(self, statement: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        with self.transaction(commit=False) as session:
            return [tuple(row) for row in session.execute(text(statement), params)]
