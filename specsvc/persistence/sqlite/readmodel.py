"""The read models in SQLite, written in the same transaction as the tracking record."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.sqlite import SQLiteCursor, SQLiteProcessRecorder

from specsvc.persistence.interfaces import (
    EventQuery,
    EventRow,
    SpecReadModelRecorder,
    SummaryQuery,
    TableDump,
    from_micros,
    to_micros,
)
from specsvc.persistence.sqlite.datastore import DurableDatastore
from specsvc.persistence.sqlite.schema import (
    AUDIT_COLUMNS,
    BINDING_TABLE,
    READ_MODEL_KEYS,
    READ_MODEL_TABLES,
    SUMMARY_COLUMNS,
    VERSION_COLUMNS,
)
from specsvc.persistence.sqlite.swap import swap_in

if TYPE_CHECKING:
    from eventsourcing.persistence import StoredEvent


class SpecProjectionRecorder(SQLiteProcessRecorder, SpecReadModelRecorder):
    """The read models, written in the same transaction as the tracking record."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *READ_MODEL_TABLES, BINDING_TABLE]

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

    def select_published(self, spec_id: UUID) -> dict[str, Any] | None:
        # One query for the hottest read: the summary joined with its published content.
        columns = ", ".join(f"s.{c.strip()}" for c in SUMMARY_COLUMNS.split(","))
        rows = self._rows(
            f"SELECT {columns}, v.content FROM spec_summaries s LEFT JOIN spec_versions v"
            " ON v.spec_id = s.id AND v.version = s.published_version WHERE s.id=?",
            (str(spec_id),),
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

    def max_position(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT MAX(position) FROM audit_log")
            return int(c.fetchone()[0] or 0)

    def dump_tables(self) -> dict[str, TableDump]:
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
