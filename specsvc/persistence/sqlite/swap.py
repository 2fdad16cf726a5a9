"""Replacing live read-model tables and their tracking row in one SQLite transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path


def swap_in(
    live: str,
    fresh: str,
    leader: str,
    *,
    tables: list[str],
    timeout: float,
    finish: Callable[[], None] | None = None,
    force: bool = False,
) -> bool:
    """Copy ``tables`` and the tracking row of ``leader`` from database ``fresh`` over ``live``.

    ``fresh`` may be an in-memory database of this process (a ``file:`` URI with
    ``cache=shared``): ATTACH reads it directly, so nothing is written to disk but the
    live file. ``finish`` runs while the live file's write lock is held, so no projection
    can advance between it and the copy. False, with nothing changed, when ``live`` has
    tracked past ``fresh`` (unless ``force``).
    """
    with closing(
        sqlite3.connect(_uri(live), uri=True, timeout=timeout, isolation_level=None)
    ) as connection:
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("ATTACH DATABASE ? AS fresh", (_uri(fresh),))
        connection.execute("BEGIN")
        try:
            # A write to the live file only: it takes that file's write lock, and leaves
            # the in-memory fresh database free for ``finish`` to write to.
            connection.execute("DELETE FROM main.read_model_binding WHERE one = 0")
            if finish is not None:
                finish()
            ahead = _tracking(connection, "main", leader) > _tracking(connection, "fresh", leader)
            if ahead and not force:
                connection.execute("ROLLBACK")
                return False
            for table in tables:
                columns = ", ".join(_columns(connection, "fresh", table))
                connection.execute(f"DELETE FROM main.{table}")
                connection.execute(
                    f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM fresh.{table}"
                )
            connection.execute("DELETE FROM main.tracking WHERE application_name=?", (leader,))
            connection.execute(
                "INSERT INTO main.tracking SELECT * FROM fresh.tracking WHERE application_name=?",
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
