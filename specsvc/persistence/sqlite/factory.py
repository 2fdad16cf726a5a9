"""Embedded SQLite persistence: the library's recorders, extended by subclassing.

Select it with ``PERSISTENCE_MODULE=specsvc.sqlite``; each application gets its own
database file (the library's SQLite tables are not prefixed by application name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing import sqlite as library_sqlite
from eventsourcing.persistence import OperationalError
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
)

from specsvc.persistence.interfaces import SpecTimelineRecorder, TimelineEntry, to_micros
from specsvc.persistence.sqlite.readmodel import SpecProjectionRecorder
from specsvc.persistence.sqlite.schema import TIMELINE_TABLE

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from eventsourcing.persistence import StoredEvent

SYNCHRONOUS_FULL = 2


class DurableConnectionPool(SQLiteConnectionPool):
    # The library leaves PRAGMA synchronous at the build default; durability is set, not assumed.
    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA synchronous")
        (level,) = cursor.fetchone()
        if level != SYNCHRONOUS_FULL:
            msg = f"SQLite refused synchronous=FULL (got {level}) for {self.db_name}"
            raise OperationalError(msg)
        return connection


class DurableDatastore(SQLiteDatastore):
    # The library builds its pool in __init__ with no hook; swap in the durable pool.
    def __init__(self, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name, **kwargs)
        self.pool = DurableConnectionPool(db_name=db_name, lock_timeout=kwargs.get("lock_timeout"))

    def pragmas(self) -> dict[str, Any]:
        """The journal mode and synchronous level actually in force, for start-up checks."""
        with self.transaction(commit=False) as c:
            c.execute("PRAGMA journal_mode")
            journal_mode = c.fetchone()[0]
            c.execute("PRAGMA synchronous")
            return {"journal_mode": journal_mode, "synchronous": c.fetchone()[0]}


class SpecEventRecorder(SQLiteApplicationRecorder, SpecTimelineRecorder):
    """The event store, plus the spec timeline written in the same transaction."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *TIMELINE_TABLE]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        timeline: list[TimelineEntry] = kwargs.get("spec_timeline", [])
        by_key = {(e.spec_id.hex, e.sequence): e for e in timeline}
        for stored, position in zip(stored_events, positions or (), strict=True):
            key = (UUID(str(stored.originator_id)).hex, stored.originator_version)
            entry = by_key.get(key)
            if entry is not None:
                c.execute(
                    "INSERT INTO spec_timeline VALUES (?, ?, ?, ?, ?)",
                    (key[0], key[1], position, to_micros(entry.timestamp), entry.content_version),
                )
        return positions

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

    def _scalar(self, statement: str, params: tuple[Any, ...]) -> Any:
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            row = c.fetchone()
            return None if row is None else row[0]


# The library picks the one factory class a module holds, so its own is imported by module.
class Factory(library_sqlite.SQLiteFactory):
    """The library's SQLite factory with durable connections and this service's recorders."""

    application_recorder_class = SpecEventRecorder
    process_recorder_class = SpecProjectionRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        old = self.datastore
        self.datastore = DurableDatastore(
            old.pool.db_name,
            lock_timeout=old.pool.lock_timeout,
            single_row_tracking=old.single_row_tracking,
            originator_id_type=old.originator_id_type,
        )
        old.close()
