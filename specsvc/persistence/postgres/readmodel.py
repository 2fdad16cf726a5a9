"""The read models on PostgreSQL: eventsourcing-sqlalchemy's process recorder, extended
as the library's examples extend theirs, with the read-model rows written in the same
transaction as the tracking record, and the projected position announced on commit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from eventsourcing.persistence import StoredEvent, Tracking, TrackingRecorder
from eventsourcing_sqlalchemy.recorders import SQLAlchemyProcessRecorder
from sqlalchemy import CursorResult, text
from sqlalchemy.orm import Session

from specsvc.persistence.interfaces import (
    EventRow,
    Lease,
    ProjectionFeed,
    SharedReadModel,
    SpecReadModelRecorder,
    TableDump,
)
from specsvc.persistence.postgres.connections import (
    AdvisoryLease,
    PositionFeed,
    lock_holders,
    shown,
)
from specsvc.persistence.postgres.schema import PROJECTED_CHANNEL, READ_MODEL_TABLES
from specsvc.persistence.sql import (
    HASHED,
    READ_MODEL_KEYS,
    ReadModelQueries,
    Run,
    already_projected,
    not_next,
)

BINDING = "read_model_binding"
logger = logging.getLogger(__name__)


class _Behind(Exception):
    """The live read models tracked past the rebuild: roll the swap back."""


class SpecProjectionRecorder(SQLAlchemyProcessRecorder, ReadModelQueries, SharedReadModel):
    """The read models, written in the same transaction as the tracking record."""

    url = ""  # set by the factory: where the store lives, for reports and connections

    def create_table(self) -> None:
        super().create_table()
        with self.transaction(commit=True) as session:
            for statement in READ_MODEL_TABLES:
                session.execute(text(statement))
            # Read models from before rows had hashes get the column, and their rows
            # their hashes, once (the factory holds the schema lock around this).
            added = [
                table
                for table in HASHED
                if session.execute(
                    text(
                        "SELECT 1 FROM information_schema.columns WHERE table_schema ="
                        " current_schema() AND table_name = :table AND column_name = 'row_hash'"
                    ),
                    {"table": table},
                ).first()
                is None
            ]
            for table in added:
                session.execute(text(f"ALTER TABLE {table} ADD COLUMN row_hash TEXT"))
            if added:
                hashed = self.hash_unhashed(_runner(session))
                logger.warning(
                    "read models: hashed the %d rows stored before rows had hashes", hashed
                )

    def _insert_tracking(self, session: Session, tracking: Tracking) -> None:
        self._advance_tracking(session, tracking.application_name, tracking.notification_id)

    def _advance_tracking(self, session: Session, leader: str, first: int, last: int = 0) -> None:
        """Move the tracking record to ``last`` (default ``first``), unless a position at
        or past ``first`` is already recorded: then raise IntegrityError."""
        # The library reads the tracking row, then writes it: two projectors racing
        # would both pass the read. One conditional upsert cannot be raced: the loser
        # waits for the winner's row and then finds its position already taken.
        result = session.execute(
            text(
                f"INSERT INTO {self.tracking_table_name} (application_name, notification_id)"
                " VALUES (:name, :last) ON CONFLICT (application_name) DO UPDATE"
                " SET notification_id = EXCLUDED.notification_id"
                f" WHERE {self.tracking_table_name}.notification_id < :first"
            ),
            {"name": leader, "first": first, "last": max(first, last)},
        )
        if cast(Any, result).rowcount != 1:
            raise already_projected(leader, first, last)

    def _insert_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(session, stored_events, **kwargs)
        tracking: Tracking | None = kwargs.get("tracking")
        if tracking is None:
            return
        row: EventRow | None = kwargs.get("spec_event")
        if row is not None:
            self.project(_runner(session), [(tracking.notification_id, row)])
        self._announce(session, tracking.notification_id)

    def project_batch(
        self, leader: str, batch: Sequence[tuple[int, EventRow | None]], *, after: int | None = None
    ) -> None:
        """Project consecutive events of ``leader`` (their positions, in order, and their
        rows, None for events that change no read model) in one transaction: one
        tracking upsert to the last position, refused as a whole if any of them is
        already projected, and one announcement (docs/architecture.md, section 7.1)."""
        if not batch:
            return
        with self.transaction(commit=True) as session:
            if after is not None:
                tracked = session.execute(
                    text(
                        f"SELECT notification_id FROM {self.tracking_table_name}"
                        " WHERE application_name=:name FOR UPDATE"
                    ),
                    {"name": leader},
                ).scalar()
                if (tracked or 0) != after:
                    raise not_next(leader, after, tracked or 0)
            self._advance_tracking(session, leader, batch[0][0], batch[-1][0])
            self.project(_runner(session), batch)
            self._announce(session, batch[-1][0])

    @staticmethod
    def _announce(session: Session, position: int) -> None:
        # Delivered to listeners when (and only if) this transaction commits.
        session.execute(
            text("SELECT pg_notify(:channel, :position)"),
            {"channel": PROJECTED_CHANNEL, "position": str(position)},
        )

    # --- coordination between the processes that share these read models -----------------

    @contextmanager
    def projector_lock(self) -> Iterator[Lease]:
        lease = AdvisoryLease(self.url, self.tracking_table_name)
        try:
            yield lease
        finally:
            lease.close()

    def projector_running(self) -> bool:
        return lock_holders(self.url, self.tracking_table_name) > 0

    def projected_feed(self) -> ProjectionFeed:
        return PositionFeed(self.url, PROJECTED_CHANNEL)

    # --- binding to an event store ----------------------------------------------------------

    def bound_store(self) -> str | None:
        with self.transaction(commit=False) as session:
            row = session.execute(text(f"SELECT store_id FROM {BINDING}")).fetchone()
        return None if row is None else str(row[0])

    def bind(self, store_id: str) -> None:
        with self.transaction(commit=True) as session:
            self._bind(session, store_id)

    def reset(self, store_id: str, leader: str) -> None:
        with self.transaction(commit=True) as session:
            self._lock_tracking(session)
            for table in READ_MODEL_KEYS:
                session.execute(text(f"DELETE FROM {table}"))
            session.execute(
                text(f"DELETE FROM {self.tracking_table_name} WHERE application_name=:name"),
                {"name": leader},
            )
            self._bind(session, store_id)

    @staticmethod
    def _bind(session: Session, store_id: str) -> None:
        session.execute(
            text(
                f"INSERT INTO {BINDING} (one, store_id) VALUES (1, :id)"
                " ON CONFLICT (one) DO UPDATE SET store_id = EXCLUDED.store_id"
            ),
            {"id": store_id},
        )

    def _lock_tracking(self, session: Session) -> None:
        # Holds off every projection transaction (they all upsert the tracking row);
        # readers go on reading the old rows until this transaction commits.
        session.execute(text(f"LOCK TABLE {self.tracking_table_name} IN EXCLUSIVE MODE"))

    # --- queries ------------------------------------------------------------------------------

    def stored_tables(self) -> dict[str, TableDump]:
        dump = {}
        with self.transaction(commit=False) as session:
            for table, key in READ_MODEL_KEYS.items():
                result = session.execute(text(f"SELECT * FROM {table} ORDER BY {', '.join(key)}"))
                columns = tuple(result.keys())
                dump[table] = TableDump(columns, [tuple(r) for r in result], len(key))
        return dump

    def row_counts(self) -> dict[str, int]:
        with self.transaction(commit=False) as session:
            return {
                table: int(session.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
                for table in READ_MODEL_KEYS
            }

    def replace_with(
        self,
        fresh: SpecReadModelRecorder,
        leader: str,
        *,
        finish: Callable[[], None] | None = None,
        force: bool = False,
    ) -> bool:
        tracked = cast(TrackingRecorder, fresh).max_tracking_id
        try:
            with self.transaction(commit=True) as session:
                self._lock_tracking(session)
                if finish is not None:
                    finish()
                live = session.execute(
                    text(
                        f"SELECT notification_id FROM {self.tracking_table_name}"
                        " WHERE application_name=:name"
                    ),
                    {"name": leader},
                ).scalar()
                position = tracked(leader) or 0
                if (live or 0) > position and not force:
                    raise _Behind
                self._copy(session, cast(ReadModelQueries, fresh).stored_tables())
                session.execute(
                    text(f"DELETE FROM {self.tracking_table_name} WHERE application_name=:name"),
                    {"name": leader},
                )
                if position:
                    session.execute(
                        text(
                            f"INSERT INTO {self.tracking_table_name}"
                            " (application_name, notification_id) VALUES (:name, :position)"
                        ),
                        {"name": leader, "position": position},
                    )
                store = fresh.bound_store()
                if store is not None:
                    self._bind(session, store)
                session.execute(
                    text("SELECT pg_notify(:channel, :position)"),
                    {"channel": PROJECTED_CHANNEL, "position": str(position)},
                )
        except _Behind:
            return False
        return True

    @staticmethod
    def _copy(session: Session, tables: dict[str, TableDump]) -> None:
        for table, dump in tables.items():
            session.execute(text(f"DELETE FROM {table}"))
            if dump.rows:
                columns = ", ".join(dump.columns)
                values = ", ".join(f":{c}" for c in dump.columns)
                session.execute(
                    text(f"INSERT INTO {table} ({columns}) VALUES ({values})"),
                    [dict(zip(dump.columns, row, strict=True)) for row in dump.rows],
                )

    def describe(self) -> dict[str, Any]:
        with self.transaction(commit=False) as session:
            return {
                "database": shown(self.url),
                "synchronous_commit": session.execute(text("SHOW synchronous_commit")).scalar(),
                "fsync": session.execute(text("SHOW fsync")).scalar(),
            }

    def _rows(self, statement: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self.transaction(commit=False) as session:
            result = session.execute(text(statement), params)
            return [dict(r._mapping) for r in result]


def _runner(session: Session) -> Run:
    def run(statement: str, params: dict[str, Any] | list[dict[str, Any]]) -> Sequence[Any]:
        result = cast(CursorResult[Any], session.execute(text(statement), params))
        return result.fetchall() if result.returns_rows else []

    return run
