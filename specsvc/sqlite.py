"""Embedded SQLite persistence: the library's recorders, extended by subclassing.

Select it with ``PERSISTENCE_MODULE=specsvc.sqlite``; each application gets its own
database file (the library's SQLite tables are not prefixed by application name).
"""

from __future__ import annotations

import sqlite3
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
    SQLiteProcessRecorder,
)

from specsvc.persistence import (
    EventQuery,
    EventRow,
    SpecReadModelRecorder,
    SpecTimelineRecorder,
    SummaryQuery,
    TimelineEntry,
    from_micros,
    to_micros,
)
from specsvc.sqlite_schema import (
    AUDIT_COLUMNS,
    READ_MODEL_TABLES,
    SUMMARY_COLUMNS,
    TIMELINE_TABLE,
    VERSION_COLUMNS,
)

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


class SpecProjectionRecorder(SQLiteProcessRecorder, SpecReadModelRecorder):
    """The read models, written in the same transaction as the tracking record."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *READ_MODEL_TABLES]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        row: EventRow | None = kwargs.get("spec_event")
        if row is not None:
            self._project(c, row, kwargs["tracking"].notification_id)
        return positions

    def _project(self, c: SQLiteCursor, row: EventRow, position: int) -> None:
        p = _params(row, position)
        if row.event == "SpecCreated":
            c.execute(
                "INSERT INTO spec_summaries VALUES (:spec_id, :name, :type, 'draft', 1, NULL,"
                " :content_sha256, :timestamp, :actor, :timestamp, :actor, :sequence, NULL)",
                p,
            )
        elif row.event == "SpecUpdated":
            c.execute(
                "UPDATE spec_summaries SET version=:version, content_sha256=:content_sha256,"
                " updated_at=:timestamp, updated_by=:actor, revision=:sequence WHERE id=:spec_id",
                p,
            )
        if row.content is not None:
            c.execute(
                "INSERT INTO spec_versions VALUES (:spec_id, :version, :sequence, :content,"
                " :content_sha256, :size, :timestamp, :actor, :reason)",
                p,
            )
        c.execute(
            "INSERT INTO audit_log VALUES (:position, :spec_id,"
            " (SELECT name FROM spec_summaries WHERE id=:spec_id), :sequence, :event,"
            " :timestamp, :actor, :correlation_id, :reason,"
            " COALESCE(:version, (SELECT version FROM spec_summaries WHERE id=:spec_id)),"
            " :from_state, :to_state, :published_version)",
            p,
        )
        if row.event == "SpecStateChanged":
            c.execute(
                "UPDATE spec_summaries SET state=:to_state, published_version=:published_version,"
                " published_at=CASE WHEN :to_state='published' THEN :timestamp"
                " ELSE published_at END,"
                " updated_at=:timestamp, updated_by=:actor, revision=:sequence WHERE id=:spec_id",
                p,
            )

    def select_summaries(self, query: SummaryQuery) -> list[dict[str, Any]]:
        clauses = ["state=?" if query.state else "state!='deleted'"]
        params: list[Any] = [query.state] if query.state else []
        if query.type:
            clauses.append("type=?")
            params.append(query.type)
        if query.name_prefix:
            # Names are ASCII below 0x7f, so this range is exactly "starts with" and uses the index.
            clauses.append("name>=? AND name<?")
            params += [query.name_prefix, query.name_prefix + "\x7f"]
        if query.after_name:
            clauses.append("name>?")
            params.append(query.after_name)
        statement = (
            f"SELECT {SUMMARY_COLUMNS} FROM spec_summaries WHERE {' AND '.join(clauses)}"
            " ORDER BY name LIMIT ?"
        )
        return self._rows(statement, (*params, query.limit))

    def select_summary(self, spec_id: UUID) -> dict[str, Any] | None:
        rows = self._rows(
            f"SELECT {SUMMARY_COLUMNS} FROM spec_summaries WHERE id=?", (str(spec_id),)
        )
        return rows[0] if rows else None

    def select_version(self, spec_id: UUID, version: int) -> dict[str, Any] | None:
        rows = self._rows(
            f"SELECT {VERSION_COLUMNS}, content FROM spec_versions WHERE spec_id=? AND version=?",
            (str(spec_id), version),
        )
        return rows[0] if rows else None

    def select_versions(self, spec_id: UUID) -> list[dict[str, Any]]:
        return self._rows(
            f"SELECT {VERSION_COLUMNS} FROM spec_versions WHERE spec_id=? ORDER BY version",
            (str(spec_id),),
        )

    def select_audit(self, query: EventQuery) -> list[dict[str, Any]]:
        clauses: list[str] = ["position>?"]
        params: list[Any] = [query.after]
        for clause, value in (
            ("actor=?", query.actor),
            ("spec_id=?", query.spec_id and str(query.spec_id)),
            ("timestamp>=?", query.since and to_micros(query.since)),
            ("timestamp<=?", query.until and to_micros(query.until)),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        statement = (
            f"SELECT {AUDIT_COLUMNS} FROM audit_log WHERE {' AND '.join(clauses)}"
            " ORDER BY position LIMIT ?"
        )
        return self._rows(statement, (*params, query.limit))

    def select_history(self, spec_id: UUID) -> list[dict[str, Any]]:
        return self._rows(
            f"SELECT {AUDIT_COLUMNS} FROM audit_log WHERE spec_id=? ORDER BY sequence",
            (str(spec_id),),
        )

    def dump_tables(self) -> dict[str, list[tuple[Any, ...]]]:
        tables = {
            "spec_summaries": "id",
            "spec_versions": "spec_id, version",
            "audit_log": "position",
        }
        with self.datastore.transaction(commit=False) as c:
            dump = {}
            for table, order in tables.items():
                c.execute(f"SELECT * FROM {table} ORDER BY {order}")
                dump[table] = [tuple(r) for r in c.fetchall()]
            return dump

    def _rows(self, statement: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [_decode(dict(r)) for r in c.fetchall()]


_TIME_COLUMNS = ("created_at", "updated_at", "published_at", "timestamp")


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for column in _TIME_COLUMNS:
        if row.get(column) is not None:
            row[column] = from_micros(row[column])
    return row


def _params(row: EventRow, position: int) -> dict[str, Any]:
    return {
        **row.__dict__,
        "spec_id": str(row.spec_id),
        "timestamp": to_micros(row.timestamp),
        "size": None if row.content is None else len(row.content.encode("utf-8")),
        "position": position,
    }


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


def sqlite_error_is_busy(error: BaseException) -> bool:
    cause = error.__cause__ or error
    return isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause)
