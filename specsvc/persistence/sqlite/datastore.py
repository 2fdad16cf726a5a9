"""Durable SQLite connections: ``synchronous=FULL`` set on every connection and checked."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import OperationalError
from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteDatastore

SYNCHRONOUS_FULL = 2


def check_durable(name: str, described: dict[str, Any]) -> None:
    """Refuse to run unless a database file is in WAL mode with synchronous=FULL."""
    if (described["journal_mode"], described["synchronous"]) != ("wal", SYNCHRONOUS_FULL):
        raise OperationalError(f"the {name} store is not durable: {described}")


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
