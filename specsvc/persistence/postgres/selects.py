"""Reads of stored events in one precompiled statement each.

The library's SQLAlchemy recorders build an ORM query and an object per row on every
read, inside a transaction (BEGIN, SELECT, ROLLBACK: three round trips). A service reads
an aggregate (snapshot, then later events) on every command and every current-state
get, so these overrides read the same rows through one cached ``text()`` statement on an
autocommit connection: one round trip (measured in benchmarks/README.md, PostgreSQL
stores: gets 4.3x the core module's p50 before, 1.7-2.1x after).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing_sqlalchemy.recorders import SQLAlchemyAggregateRecorder
from sqlalchemy import Engine, TextClause, text

from specsvc.persistence.chain import WindowedSelects


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
    """The snapshot store, read the same way."""
