"""SQLite connections with the durability each file needs, set on every connection and
checked, and a statement cache that holds every statement the service runs.

The event store's file runs ``synchronous=FULL``: an acknowledged write is on disk. The
read models' file runs ``synchronous=NORMAL`` in WAL mode: a commit is not flushed by
itself, so a power loss may drop the last few projection transactions, never tear one;
each carries its tracking record, so the projections resume from the event store exactly
where the file stopped (docs/architecture.md, decision "one durable commit per command").
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from eventsourcing.persistence import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteTransaction,
)

SYNCHRONOUS_NORMAL, SYNCHRONOUS_FULL = 1, 2
LEVELS = {"NORMAL": SYNCHRONOUS_NORMAL, "FULL": SYNCHRONOUS_FULL}
# The library's env key (per application) that chooses a file's level.
SYNCHRONOUS = "SQLITE_SYNCHRONOUS"
# Prepared statements kept per connection: more than the service's distinct statements.
STATEMENT_CACHE = 256

T = TypeVar("T")


_TRANSLATED: dict[type[sqlite3.Error], type[PersistenceError]] = {
    sqlite3.InterfaceError: InterfaceError,
    sqlite3.DataError: DataError,
    sqlite3.OperationalError: OperationalError,
    sqlite3.IntegrityError: IntegrityError,
    sqlite3.InternalError: InternalError,
    sqlite3.ProgrammingError: ProgrammingError,
    sqlite3.NotSupportedError: NotSupportedError,
    sqlite3.DatabaseError: DatabaseError,
}


def check_durable(name: str, described: dict[str, Any]) -> None:
    """Refuse to run unless a database file is in WAL mode with synchronous=FULL, or
    NORMAL for the read models (rebuilt from the events if a power loss drops commits)."""
    wanted = {SYNCHRONOUS_FULL} if name == "events" else {SYNCHRONOUS_NORMAL, SYNCHRONOUS_FULL}
    if described["journal_mode"] != "wal" or described["synchronous"] not in wanted:
        raise OperationalError(f"the {name} store is not durable: {described}")


class DurableConnectionPool(SQLiteConnectionPool):
    """Connections with ``synchronous`` set (the library leaves the build default)."""

    def __init__(self, *, synchronous: str = "FULL", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.synchronous = synchronous

    def _create_connection(self) -> SQLiteConnection:
        connection = self._connect()
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA synchronous={self.synchronous}")
        cursor.execute("PRAGMA synchronous")
        (level,) = cursor.fetchone()
        if level != LEVELS[self.synchronous]:
            msg = f"SQLite refused synchronous={self.synchronous} (got {level}) for {self.db_name}"
            raise OperationalError(msg)
        return connection

    def _connect(self) -> SQLiteConnection:
        # The library connects with cached_statements=True, a cache of one statement that
        # each BEGIN evicts, so every query was prepared again; connect as it does, with a
        # cache that keeps them.
        try:
            raw = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,
                cached_statements=STATEMENT_CACHE,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as error:
            raise InterfaceError(error) from error
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            if raw.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                raw.execute("PRAGMA journal_mode=WAL")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        raw.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=raw, max_age=self.max_age)


class ImmediateTransaction(SQLiteTransaction):
    """The library's transaction, begun IMMEDIATE: it takes the file's write lock first
    (waiting for it as long as the lock timeout allows). Begun deferred, a transaction
    that reads before it writes is refused at once, without waiting, when another
    process committed in between."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise _TRANSLATED.get(type(error), PersistenceError)(error) from error
        return cursor


class ProcessTurns:
    """Writers of different processes taking turns on one file, by an advisory lock on a
    file beside it (``NAME-writer``): a waiting process tries again within a millisecond
    of the lock's release, where SQLite's own busy handler sleeps 1, 2, 5, 10... up to
    100 ms between attempts. Taken by one thread of a process at a time (the caller
    holds the process's own lock), and never held while no transaction is open."""

    FIRST_WAIT, LONGEST_WAIT = 0.00005, 0.001  # seconds between attempts

    def __init__(self, database: str) -> None:
        self.path = f"{database}-writer"
        self._fd: int | None = None

    def take(self, deadline: float) -> bool:
        """Wait for the turn until ``deadline`` (a monotonic time); False if it passed."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        wait = self.FIRST_WAIT
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(wait)
                wait = min(wait * 2, self.LONGEST_WAIT)

    def give(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _turns_for(database: str) -> ProcessTurns | None:
    """Turns between processes for a database file (not for memory or URI names)."""
    if not database or database.startswith("file:") or ":memory:" in database:
        return None
    return ProcessTurns(database)


class _Write:
    """One caller's part of a group commit: what it writes, then what came of it."""

    __slots__ = ("done", "error", "result", "write")

    def __init__(self, write: Callable[[SQLiteCursor], Any]) -> None:
        self.write = write
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


class ReaderConnection(sqlite3.Connection):
    """A thread's own connection for single SELECTs (a subclass, so it can be weakly
    referenced and closed with its datastore)."""


def _in_savepoint(cursor: SQLiteCursor, write: _Write) -> None:
    cursor.execute("SAVEPOINT write")
    try:
        write.result = write.write(cursor)
    except Exception as error:
        cursor.execute("ROLLBACK TO write")
        write.error = _translated(error)
    cursor.execute("RELEASE write")


def _translated(error: Exception) -> Exception:
    """A write's own failure as the library's transactions would have raised it."""
    if isinstance(error, sqlite3.Error):
        translated = _TRANSLATED.get(type(error), PersistenceError)(error)
        translated.__cause__ = error
        return translated
    return error


def _again(error: BaseException) -> BaseException:
    """The failure of a group's commit for another of its callers: an exception object
    of its own (each caller raises it in its own thread), of the same kind."""
    if not isinstance(error, Exception):
        error = OperationalError(f"the commit was interrupted ({type(error).__name__})")
    try:
        copy = type(error)(*error.args)
    except Exception:
        copy = PersistenceError(str(error))
    copy.__cause__ = error
    return copy


class DurableDatastore(SQLiteDatastore):
    # The library builds its pool in __init__ with no hook; swap in the durable pool.
    def __init__(self, db_name: str, *, synchronous: str = "FULL", **kwargs: Any) -> None:
        super().__init__(db_name, **kwargs)
        self.synchronous = synchronous
        self.pool = DurableConnectionPool(
            db_name=db_name, lock_timeout=kwargs.get("lock_timeout"), synchronous=synchronous
        )
        self._local = threading.local()
        self._readers: weakref.WeakSet[ReaderConnection] = weakref.WeakSet()
        self._readers_lock = threading.Lock()
        self._writer = threading.RLock()
        self._writing = 0  # depth of this process's open write transactions
        self._writes: SQLiteConnection | None = None
        self._turns = _turns_for(db_name)
        self._committer = threading.Lock()  # held by the thread committing a group
        self._queued: list[_Write] = []  # writes waiting for the next group
        self._queue_lock = threading.Lock()

    @contextmanager
    def transaction(self, *, commit: bool, durable: bool = True) -> Iterator[SQLiteCursor]:
        """The library's transaction; a writing one first waits for this process's other
        writers on a lock, then for other processes' writers on the file beside the
        database (``ProcessTurns``), and begins IMMEDIATE. Left to SQLite, a writer that
        finds the file locked sleeps in steps of 1, 2, 5, 10... ms before trying again:
        under concurrent commands most of the time went to sleeping (docs/architecture.md,
        Writes). A writing transaction runs on the process's one writer connection.

        ``durable=False``: a write that can be made again from the file's other contents
        (a snapshot) commits without waiting for the disk, at ``synchronous=NORMAL``; the
        next durable commit flushes it with its own."""
        if not commit:
            with super().transaction(commit=False) as cursor:
                yield cursor
            return
        timeout = self.pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT
        deadline = time.monotonic() + timeout
        if not self._writer.acquire(timeout=timeout):
            raise OperationalError(f"database is locked (waited {timeout} s for a writer)")
        try:
            self._writing += 1
            if self._writing == 1 and self._turns is not None:
                try:
                    taken = self._turns.take(deadline)
                except OSError:  # no lock file (a read-only folder): SQLite's waiting alone
                    self._turns, taken = None, True
                if not taken:
                    raise OperationalError(
                        f"database is locked (waited {timeout} s for another process)"
                    )
            try:
                if self.pool.is_sqlite_memory_mode or self._writing > 1:
                    with (
                        self.get_connection(commit=True) as connection,
                        ImmediateTransaction(connection, commit=True) as cursor,
                        cursor,
                    ):
                        yield cursor
                else:  # the process's one writer, on a connection of its own (no pool)
                    writes = self._write_connection()
                    relaxed = not durable and self.synchronous != "NORMAL"
                    if relaxed:
                        writes.cursor().execute("PRAGMA synchronous=NORMAL")
                    try:
                        with ImmediateTransaction(writes, commit=True) as cursor, cursor:
                            yield cursor
                    finally:
                        if relaxed:
                            writes.cursor().execute(f"PRAGMA synchronous={self.synchronous}")
            finally:
                if self._writing == 1 and self._turns is not None:
                    self._turns.give()
        finally:
            self._writing -= 1
            self._writer.release()

    def grouped(self, write: Callable[[SQLiteCursor], T]) -> T:
        """``write``'s answer once it is committed, durably: writes that arrive while
        another group commits wait, and the first of them to get the turn commits them
        all in one transaction, each in a savepoint of its own (group commit). Under
        concurrent commands one lock turn and one flush to disk serve many, and the
        lock is held for less of each (docs/architecture.md, Writes). A write that
        fails rolls back alone and its caller gets its error; one that succeeds is
        answered only after the whole group's commit, and every caller of a group
        whose commit fails gets that failure."""
        mine = _Write(write)
        with self._queue_lock:
            self._queued.append(mine)
        timeout = self.pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT
        if not self._committer.acquire(timeout=timeout):
            with self._queue_lock:
                waiting = any(queued is mine for queued in self._queued)
                if waiting:
                    self._queued.remove(mine)
            if waiting:
                raise OperationalError(f"database is locked (waited {timeout} s for a writer)")
            self._committer.acquire()  # a committer took it: its outcome comes soon
        try:
            if not mine.done:
                with self._queue_lock:
                    group, self._queued = self._queued, []
                self._commit_group(group, mine)
        finally:
            self._committer.release()
        if mine.error is not None:
            raise mine.error
        return cast(T, mine.result)

    def _commit_group(self, group: list[_Write], mine: _Write) -> None:
        try:
            with self.transaction(commit=True) as cursor:
                if len(group) == 1:  # alone, its failure is the transaction's
                    group[0].result = group[0].write(cursor)
                else:
                    for write in group:
                        _in_savepoint(cursor, write)
        except BaseException as error:  # nothing of the group was committed
            for write in group:  # the committing thread raises the failure itself
                write.error = error if write is mine else _again(error)
                write.done = True
            if not isinstance(error, Exception):
                raise
            return
        for write in group:
            write.done = True

    def _write_connection(self) -> SQLiteConnection:
        """The connection this process writes a file through: writers take turns on
        ``_writer``, so one is enough, and borrowing it from the pool cost a semaphore,
        a lock and a condition per transaction."""
        if self._writes is None:
            self._writes = self.pool._create_connection()
        return self._writes

    def select(self, statement: str, params: Any = ()) -> list[Any]:
        """The rows of one SELECT, run by itself: one statement is atomic in SQLite, so
        the BEGIN and ROLLBACK the library's read transactions add only cost time.

        A file is read through a connection of the calling thread's own, which skips the
        pool's locking (most of the cost of a one-row read); an in-memory database,
        which the pool serialises, is read through the pool."""
        try:
            if self.pool.is_sqlite_memory_mode:
                with self.get_connection(commit=False) as connection:
                    cursor = connection.cursor()
                    cursor.execute(statement, params)
                    return list(cursor.fetchall())
            reader = getattr(self._local, "reader", None)
            if reader is None:
                reader = self._local.reader = self._reader()
            return reader.execute(statement, params).fetchall()
        except sqlite3.Error as error:  # as the library's transactions translate them
            raise _TRANSLATED.get(type(error), PersistenceError)(error) from error

    def _reader(self) -> ReaderConnection:
        pool = self.pool
        reader = sqlite3.connect(
            database=pool.db_name,
            uri=True,
            check_same_thread=False,  # closed by close(), from whichever thread
            isolation_level=None,
            cached_statements=STATEMENT_CACHE,
            timeout=pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            factory=ReaderConnection,
        )
        reader.row_factory = sqlite3.Row
        with self._readers_lock:
            self._readers.add(reader)
        return reader

    def close(self) -> None:
        lock = getattr(self, "_readers_lock", None)  # the library's __del__ closes too
        if lock is not None:
            with lock:
                readers, self._readers = list(self._readers), weakref.WeakSet()
            self._local = threading.local()
            for reader in readers:
                reader.close()
            if self._turns is not None:
                self._turns.close()
            with self._writer:
                if self._writes is not None:
                    self._writes.close()
                    self._writes = None
        super().close()

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
