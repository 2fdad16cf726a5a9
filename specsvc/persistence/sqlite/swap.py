"""Replacing live read-model tables and their tracking row in one SQLite transaction."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path


def swap_in(live: str, fresh: str, leader: str, *, tables: list[str], timeout: float) -> bool:
    """Copy ``tables`` and the tracking row of ``leader`` from database ``fresh`` over ``live``.

    ``fresh`` may be an in-memory database of this process (a ``file:`` URI with
    ``cache=shared``): ATTACH reads it directly, so nothing is written to disk but the
    live file. False, with nothing changed, when ``live`` has tracked past ``fresh``.
    """
    with closing(
        sqlite3.connect(_uri(live), uri=True, timeout=timeout, isolation_level=None)
    ) as connection:
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("ATTACH DATABASE ? AS fresh", (_uri(fresh),))
        # IMMEDIATE takes the write lock first, so no writer slips in between the check
        # of the tracking positions and the copy.
        connection.execute("BEGIN IMMEDIATE")
        try:
            if _tracking(connection, "main", leader) > _tracking(connection, "fresh", leader):
                connection.execute("ROLLBACK")
                return False
            for table in tables:
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


def _uri(name: str) -> str:
    return name if name.startswith("file:") else Path(name).absolute().as_uri()


def _tracking(connection: sqlite3.Connection, schema: str, leader: str) -> int:
    row = connection.execute(
        f"SELECT notification_id FROM {schema}.tracking WHERE application_name=?", (leader,)
    ).fetchone()
    return int(row[0]) if row else 0


def _columns(connection: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA {schema}.table_info({table})")]
