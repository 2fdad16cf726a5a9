"""Reads of stored events in one precompiled statement each.

The library's SQLAlchemy recorders build an ORM query and an object per row on every
read, inside a transaction (BEGIN, SELECT, ROLLBACK: three round trips). A service reads
an aggregate (snapshot, then later events) on every command and every current-state
get, so these overrides read the same rows through one cached ``text()`` statement on an
autocommit connection: one round trip (measured in benchmarks/README.md, PostgreSQL
stores: gets 4.3x the core module's p50 before, 1.7-2.1x after).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing_sqlalchemy.recorders import SQLAlchemyAggregateRecorder
from sqlalchemy import Engine, TextClause, text
from sqlalchemy.orm import Session

from specsvc.persistence import chain
from specsvc.persistence.chain import Chain, WindowedSelects


class PlainSelects(WindowedSelects, SQLAlchemyAggregateRecorder):
    """``select_events`` without the ORM: the same rows, in the same order."""

    _statements: dict[tuple[bool, bool, bool, bool], TextClause]

    def _select(self, gt: bool, lte: bool, desc: bool, limit: bool) -> TextClause:
        key = (gt, lte, desc, limit)
        cache = self.__dict__.setdefault("_statements", {})
        statement = cache.get(key)
        if statement is None:
            table = self.events_record_cls.__table__.fullname
            where = ["originator_id = :id"]
            if gt:
                where.append("originator_version > :gt")
            if lte:
                where.append("originator_version <= :lte")
            sql = (
                f"SELECT originator_version, topic, state FROM {table}"
                f" WHERE {' AND '.join(where)}"
                f" ORDER BY originator_version {'DESC' if desc else 'ASC'}"
                + (" LIMIT :limit" if limit else "")
            )
            statement = cache[key] = text(sql)
        return statement

    def _window_rows(
        self, window: tuple[bool, bool, bool, bool], params: dict[str, Any]
    ) -> list[Any]:
        return self._plain_rows(self._select(*window), params)

    def _events(self, originator_id: Any, rows: list[Any]) -> list[StoredEvent]:
        return [
            StoredEvent(
                originator_id=originator_id,
                originator_version=version,
                topic=topic,
                state=bytes(state) if isinstance(state, memoryview) else state,
            )
            for version, topic, state in rows
        ]

    def _plain_rows(self, statement: TextClause, params: dict[str, Any]) -> list[Any]:
        # One statement needs no transaction around it: in autocommit mode a read is one
        # round trip to the server, not BEGIN, SELECT and ROLLBACK.
        engine = self.datastore.engine
        assert isinstance(engine, Engine)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return list(connection.execute(statement, params).fetchall())


class SnapshotRecorder(PlainSelects):
    """The snapshot store, read the same way: each snapshot stored with its hash and
    checked against it on every read (docs/behaviour.md, Tamper evidence)."""

    chain: Chain = Chain()

    def create_table(self) -> None:
        super().create_table()
        with self.transaction(commit=True) as session:
            session.execute(text(chain.SNAPSHOT_TABLES["postgres"]))

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        result = super()._insert_stored_events(session, stored_events, **kwargs)
        rows = self.chain.snapshot_rows(stored_events, chain.as_uuid)
        if rows:
            session.execute(text(chain.INSERT_SNAPSHOT_HASH), rows)
        return result

    def _window_rows(
        self, window: tuple[bool, bool, bool, bool], params: dict[str, Any]
    ) -> list[Any]:
        cache: dict[Any, TextClause] = self.__dict__.setdefault("_hashed", {})
        statement = cache.get(window)
        if statement is None:
            table = self.events_record_cls.__table__.fullname
            statement = cache[window] = text(chain.select_snapshots_sql(table, *window))
        return self._plain_rows(statement, params)

    def _events(self, originator_id: Any, rows: list[Any]) -> list[StoredEvent]:
        return chain.checked_snapshots(self.chain, originator_id, rows)

    def select_unchecked(self, originator_id: UUID) -> list[StoredEvent]:
        """Every snapshot of the aggregate, hashed or not, as stored (for verify)."""
        params = {"id": originator_id, "gt": None, "lte": None, "limit": None}
        return PlainSelects._events(
            self,
            originator_id,
            PlainSelects._window_rows(self, (False, False, False, False), params),
        )

    def snapshot_hashes(self, originator_id: UUID) -> dict[int, bytes]:
        rows = self._plain_rows(text(chain.SNAPSHOT_HASHES), {"id": originator_id})
        return {int(row[0]): bytes(row[1]) for row in rows}
