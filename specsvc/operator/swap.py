"""Replacing live read-model tables and their tracking row in one SQLite transaction."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from specsvc.operator.store import read_only

# The library's own tables: the tracking row is swapped on its own, events and
# snapshots (a follower built from the leader's environment has a table for them) never.
NOT_READ_MODEL = ("tracking", "stored_events", "stored_snapshots")


def swap_in(live: str, fresh: str, leader: str, timeout: int) -> bool:
    """Copy every read-model table and the tracking row of ``fresh`` over ``live``.

    Readers see the old model or the new one, never a mixture. False (nothing changed)
    when ``live`` has tracked past ``fresh``: moving its tracking back would lose what a
    running server projected in between.
    """
    with closing(sqlite3.connect(live, timeout=timeout, isolation_level=None)) as connection:
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("ATTACH DATABASE ? AS fresh", (fresh,))
        connection.execute("BEGIN IMMEDIATE")
        try:
            if _tracking(connection, "main", leader) > _tracking(connection, "fresh", leader):
                connection.execute("ROLLBACK")
                return False
            for table in read_model_tables(connection, "fresh"):
                columns = ", ".join(_columns(connection, "fresh", table))
                connection.execute(f"DELETE FROM main.{table}")
                connection.execute(
                    f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM fresh.{table}"
                )
            connection.execute(
                "INSERT OR REPLACE INTO main.tracking SELECT * FROM fresh.tracking"
                " WHERE application_name=?",
                (leader,),
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return True


def row_counts(path: str) -> dict[str, int]:
    """Rows per read-model table."""
    with closing(read_only(path)) as connection:
        return {
            table: connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in read_model_tables(connection, "main")
        }


def tracked_position(path: str, leader: str) -> int:
    """The last log position the read models at ``path`` hold."""
    with closing(read_only(path)) as connection:
        return _tracking(connection, "main", leader)


def read_model_tables(connection: sqlite3.Connection, schema: str) -> list[str]:
    rows = connection.execute(
        f"SELECT name FROM {schema}.sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY name"
    )
    return [name for (name,) in rows if name not in NOT_READ_MODEL]


def _tracking(connection: sqlite3.Connection, schema: str, leader: str) -> int:
    row = connection.execute(
        f"SELECT notification_id FROM {schema}.tracking WHERE application_name=?", (leader,)
    ).fetchone()
    return int(row[0]) if row else 0


def _columns(connection: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA {schema}.table_info({table})")]
