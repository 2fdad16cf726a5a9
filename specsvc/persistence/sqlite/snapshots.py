"""The snapshot store: the library's SQLite recorder, each snapshot stored with its hash
and checked against it when read (docs/behaviour.md, Tamper evidence)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteCursor

from specsvc.persistence import chain
from specsvc.persistence.chain import Chain, WindowedSelects
from specsvc.persistence.sqlite.datastore import DurableDatastore


def _key(originator_id: Any) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else str(originator_id)


class SnapshotRecorder(WindowedSelects, SQLiteAggregateRecorder):
    """Snapshots with their hashes, written in one transaction, checked on every read."""

    chain: Chain = Chain()

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), chain.SNAPSHOT_TABLES["sqlite"]]

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # A snapshot can be taken again from the events: it need not wait for the disk.
        assert isinstance(self.datastore, DurableDatastore)
        with self.datastore.transaction(commit=True, durable=False) as c:
            return self._insert_events(c, stored_events, **kwargs)

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        result = super()._insert_events(c, stored_events, **kwargs)
        c.executemany(chain.INSERT_SNAPSHOT_HASH, self.chain.snapshot_rows(stored_events, _key))
        return result

    def _window_rows(
        self, window: tuple[bool, bool, bool, bool], params: dict[str, Any]
    ) -> list[Sequence[Any]]:
        statement = chain.select_snapshots_sql(self.events_table_name, *window)
        assert isinstance(self.datastore, DurableDatastore)
        return self.datastore.select(statement, {**params, "id": _key(params["id"])})

    def _events(self, originator_id: Any, rows: list[Sequence[Any]]) -> list[Any]:
        return chain.checked_snapshots(self.chain, originator_id, rows)

    def select_unchecked(self, originator_id: UUID) -> list[StoredEvent]:
        """Every snapshot of the aggregate, hashed or not, as stored (for verify)."""
        return list(SQLiteAggregateRecorder.select_events(self, originator_id))

    def snapshot_hashes(self, originator_id: UUID) -> dict[int, bytes]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(chain.SNAPSHOT_HASHES, {"id": _key(originator_id)})
            return {int(row[0]): bytes(row[1]) for row in c.fetchall()}
