"""Durable SQLite connections: ``synchronous=FULL`` set on every connection and checked."""

from __future__ import annotations

import sqlite3
from typing import Any

from eventsourcing.persistence import OperationalError
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
)

SYNCHRONOUS_FULL = 2
STATEMENT_CACHE = 128  # statements compiled once per connection (sqlite3's default size)


def check_durable(name: str, described: dict[str, Any]) -> None:
    """Refuse to run unless a database file is in WAL mode with synchronous=FULL."""
    if (described["journal_mode"], described["synchronous"]) != ("wal", SYNCHRONOUS_FULL):
        raise OperationalError(f"the {name} store is not durable: {described}")


class DurableConnectionPool(SQLiteConnectionPool):
    # The library leaves PRAGMA synchronous at the build default; durability is set, not assumed.
    def _create_connection(self) -> SQLiteConnection:
        connection = self._with_statement_cache(super()._create_connection())
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA synchronous")
        (level,) = cursor.fetchone()
        if level != SYNCHRONOUS_FULL:
            msg = f"SQLite refused synchronous=FULL (got {level}) for {self.db_name}"
            raise OperationalError(msg)
        return connection

    def _with_statement_cache(self, opened: SQLiteConnection) -> SQLiteConnection:
        # The library passes cached_statements=True, a one-statement cache: reopen with a real one.
        raw = sqlite3.connect(
            self.db_name,
            uri=True,
            check_same_thread=False,
            isolation_level=None,
            cached_statements=STATEMENT_CACHE,
            timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
        )
        raw.row_factory = sqlite3.Row
        opened.close()  # after the new one is open: an in-memory database lives on
        return SQLiteConnection(raw, max_age=self.max_age)


class DurableDatastore(SQLiteDatastore):
    # The library builds its pool in __init__ with no hook; swap in the durable pool.
    def __init__(self, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name, **kwargs)
        self.pool = DurableConnectionPool(db_name=db_name, lock_timeout=kwargs.get("lock_timeout"))

    def describe(self) -> dict[str, Any]:
        """The file, and the journal mode and synchronous level actually in force."""
        with self.transaction(commit=False) as c:
            c.execute("PRAGMA journal_mode")
            journal_mode = c.fetchone()[0]
            c.execute("PRAGMA synchronous")
            synchronous = c.fetchone()[0]
        return {
            "database": self.pool.db_name,
            "journal_mode": journal_mode,
            "synchronous": synchronous,
        }
