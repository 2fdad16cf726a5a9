"""Connection addresses, and the two things done on a connection of their own: holding
the projector's advisory lock, and listening for projected positions."""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.persistence import OperationalError

from specsvc.persistence.interfaces import Lease, ProjectionFeed

SCHEMES = re.compile(r"^(postgresql|postgres)(\+psycopg)?://")


def libpq_url(url: str) -> str:
    """``url`` as libpq (and psycopg) take it: ``postgresql://...``."""
    if not SCHEMES.match(url):
        raise ValueError(f"{url!r} is not a postgresql:// URL")
    return SCHEMES.sub("postgresql://", url)


def sqlalchemy_url(url: str) -> str:
    """``url`` as SQLAlchemy takes it, with the psycopg 3 driver."""
    return SCHEMES.sub("postgresql+psycopg://", libpq_url(url))


def shown(url: str) -> str:
    """``url`` without its password, for logs and reports."""
    return re.sub(r"://([^:@/]+):[^@/]*@", r"://\1:***@", libpq_url(url))


def lock_key(name: str) -> int:
    """A stable 63-bit advisory lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1


@contextmanager
def translated() -> Iterator[None]:
    """psycopg's errors as the library's, which the layers above know."""
    try:
        yield
    except psycopg.Error as error:
        raise OperationalError(str(error)) from error


class AdvisoryLease(Lease):
    """A session advisory lock on a connection of its own: when this process dies,
    PostgreSQL ends the session and the lock passes to whoever asks next."""

    def __init__(self, url: str, name: str):
        self._key = lock_key(name)
        with translated():
            self._connection = psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=5)
        self._held = False

    def acquire(self) -> bool:
        if not self._held:
            with translated():
                row = self._connection.execute(
                    "SELECT pg_try_advisory_lock(%s)", (self._key,)
                ).fetchone()
            self._held = bool(row and row[0])
        return self._held

    def held(self) -> bool:
        if not self._held:
            return False
        try:
            self._connection.execute("SELECT 1")
        except psycopg.Error:
            self._held = False
        return self._held

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            if self._held and not self._connection.closed:
                self._connection.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
        self._held = False
        self._connection.close()


@contextmanager
def schema_lock(url: str) -> Iterator[None]:
    """Held while tables are created: PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe
    against another session creating the same table at the same moment."""
    key = lock_key("specsvc schema")
    with (
        translated(),
        psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=5) as connection,
    ):
        connection.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (key,))


def lock_holders(url: str, name: str) -> int:
    """How many sessions hold the advisory lock ``name`` (0 or 1)."""
    key = lock_key(name)
    with (
        translated(),
        psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=5) as connection,
    ):
        row = connection.execute(
            # Advisory locks are per database; other stores on the server hold their own.
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()"
            " AND ((l.classid::bigint << 32) | l.objid::bigint) = %s",
            (key,),
        ).fetchone()
    return int(row[0]) if row else 0


class PositionFeed(ProjectionFeed):
    """LISTENs on one channel whose payloads are log positions."""

    def __init__(self, url: str, channel: str):
        self._url = libpq_url(url)
        self._channel = channel
        self._connection: psycopg.Connection[Any] | None = None

    def wait(self, timeout: float) -> int | None:
        with translated():
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
                self._connection.execute(f"LISTEN {self._channel}")
            connection = self._connection
            heard = [int(n.payload) for n in connection.notifies(timeout=timeout, stop_after=1)]
            # Whatever else has arrived meanwhile, without waiting again.
            heard += [int(n.payload) for n in connection.notifies(timeout=0)]
        return max(heard, default=None)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
