"""The read models in SQLite, written in the same transaction as the tracking record."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteProcessRecorder

from specsvc.persistence.interfaces import (
    EventRow,
    SpecReadModelRecorder,
    TableDump,
)
from specsvc.persistence.sql import (
    HASHED,
    READ_MODEL_KEYS,
    ReadModelQueries,
    Run,
    already_projected,
    not_next,
)
from specsvc.persistence.sqlite.datastore import DurableDatastore
from specsvc.persistence.sqlite.schema import BINDING_TABLE, READ_MODEL_TABLES
from specsvc.persistence.sqlite.swap import swap_in

if TYPE_CHECKING:
    from eventsourcing.persistence import StoredEvent

logger = logging.getLogger(__name__)


class SpecProjectionRecorder(SQLiteProcessRecorder, ReadModelQueries):
    """The read models, written in the same transaction as the tracking record."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *READ_MODEL_TABLES, BINDING_TABLE]

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)
        # Read models from before rows had hashes get the column, and their rows their
        # hashes, once, in the transaction that creates the tables.
        added = []
        for table in HASHED:
            c.execute(f"PRAGMA table_info({table})")
            if "row_hash" not in {row[1] for row in c.fetchall()}:
                added.append(table)
        for table in added:
            c.execute(f"ALTER TABLE {table} ADD COLUMN row_hash TEXT")
        if added:
            hashed = self.hash_unhashed(_runner(c))
            logger.warning("read models: hashed the %d rows stored before rows had hashes", hashed)

    def max_tracking_id(self, application_name: str) -> int | None:
        # Asked before every read of the read models: one SELECT, without the library's
        # BEGIN and ROLLBACK around it.
        assert isinstance(self.datastore, DurableDatastore)
        rows = self.datastore.select(self.select_max_tracking_id_statement, [application_name])
        return rows[0][0] if rows else None

    def bound_store(self) -> str | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT store_id FROM read_model_binding")
            row = c.fetchone()
            return None if row is None else str(row[0])

    def bind(self, store_id: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._bind(c, store_id)

    def reset(self, store_id: str, leader: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            for table in READ_MODEL_KEYS:
                c.execute(f"DELETE FROM {table}")
            c.execute("DELETE FROM tracking WHERE application_name=?", (leader,))
            self._bind(c, store_id)

    @staticmethod
    def _bind(c: SQLiteCursor, store_id: str) -> None:
        c.execute("INSERT OR REPLACE INTO read_model_binding VALUES (1, ?)", (store_id,))

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        row: EventRow | None = kwargs.get("spec_event")
        if row is not None:
            self.project(_runner(c), [(kwargs["tracking"].notification_id, row)])
        return positions

    def project_batch(
        self, leader: str, batch: Sequence[tuple[int, EventRow | None]], *, after: int | None = None
    ) -> None:
        """Project consecutive events of ``leader`` in one transaction, tracked at the last
        (the library's ``process_event`` commits once per event)."""
        if not batch:
            return
        first, last = batch[0][0], batch[-1][0]
        with self.datastore.transaction(commit=True) as c:
            c.execute(self.select_max_tracking_id_statement, (leader,))
            tracked = c.fetchone()[0]
            if after is not None and (tracked or 0) != after:
                raise not_next(leader, after, tracked or 0)
            if tracked is not None and tracked >= first:
                raise already_projected(leader, first, last)
            self._insert_tracking(c, Tracking(leader, last))
            self.project(_runner(c), batch)

    def stored_tables(self) -> dict[str, TableDump]:
        dump = {}
        with self.datastore.transaction(commit=False) as c:
            for table, key in READ_MODEL_KEYS.items():
                c.execute(f"SELECT * FROM {table} ORDER BY {', '.join(key)}")
                rows = c.fetchall()
                c.execute(f"PRAGMA table_info({table})")
                columns = tuple(row[1] for row in c.fetchall())
                dump[table] = TableDump(columns, [tuple(r) for r in rows], len(key))
        return dump

    def row_counts(self) -> dict[str, int]:
        with self.datastore.transaction(commit=False) as c:
            counts = {}
            for table in READ_MODEL_KEYS:
                c.execute(f"SELECT COUNT(*) FROM {table}")
                counts[table] = int(c.fetchone()[0])
            return counts

    def replace_with(
        self,
        fresh: SpecReadModelRecorder,
        leader: str,
        *,
        finish: Callable[[], None] | None = None,
        force: bool = False,
    ) -> bool:
        if not isinstance(fresh, SpecProjectionRecorder):
            raise TypeError("a SQLite read model is replaced from another SQLite read model")
        return swap_in(
            self.datastore.pool.db_name,
            fresh.datastore.pool.db_name,
            leader,
            tables=[*READ_MODEL_KEYS, "read_model_binding"],
            timeout=self.datastore.pool.lock_timeout or 5,
            finish=finish,
            force=force,
        )

    def describe(self) -> dict[str, Any]:
        assert isinstance(self.datastore, DurableDatastore)
        return self.datastore.describe()

    def _rows(self, statement: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        assert isinstance(self.datastore, DurableDatastore)
        return [dict(r) for r in self.datastore.select(statement, params)]


def _runner(c: SQLiteCursor) -> Run:
    cursor = c.sqlite_cursor

    def run(statement: str, params: dict[str, Any] | list[dict[str, Any]]) -> list[Any]:
        if isinstance(params, list):
            cursor.executemany(statement, params)
            return []
        return cursor.execute(statement, params).fetchall()

    return run
