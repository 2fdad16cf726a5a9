"""eventsourcing-sqlalchemy's factory, with this service's recorders and bounded waits.

Selected by ``PERSISTENCE_MODULE=specsvc.persistence.postgres.factory:Factory``; both
applications share one database (the library prefixes their tables with their names).
"""

from __future__ import annotations

from typing import Any

import psycopg
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    OperationalError,
    ProcessRecorder,
)
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory

from specsvc.persistence.chain import bound
from specsvc.persistence.postgres.connections import (
    libpq_url,
    schema_lock,
    shown,
    sqlalchemy_url,
    translated,
)
from specsvc.persistence.postgres.events import SpecEventRecorder
from specsvc.persistence.postgres.readmodel import SpecProjectionRecorder
from specsvc.persistence.postgres.selects import SnapshotRecorder
from specsvc.persistence.sealing import ContentSealer, check_store

TOPIC = f"{__name__}:Factory"

# Each wait on the server is bounded: a write queued behind a lock, a transaction left
# open by a stalled client, a connection attempt to a server that does not answer.
SESSION_OPTIONS = "-c lock_timeout=10s -c idle_in_transaction_session_timeout=60s"
CONNECT_TIMEOUT = 5
POOL_SIZE = 10
POOL_OVERFLOW = 20
POOL_TIMEOUT = 10


class Factory(SQLAlchemyFactory):
    """The event store with its timeline, and the read models, on PostgreSQL."""

    aggregate_recorder_class = SnapshotRecorder
    application_recorder_class = SpecEventRecorder
    process_recorder_class = SpecProjectionRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        # The library passes no pool or connection options to its engine (there is no
        # hook): rebuild the datastore with bounded waits, checked connections and a pool
        # sized for a threaded server.
        self.url = str(self.env.get(self.SQLALCHEMY_URL))
        self.datastore.engine.dispose()  # type: ignore[union-attr]
        self.datastore = self.datastore_class(
            url=self.url,
            pool_pre_ping=True,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            pool_timeout=POOL_TIMEOUT,
            connect_args={"connect_timeout": CONNECT_TIMEOUT, "options": SESSION_OPTIONS},
        )
        # The library builds a recorder and creates its tables in one call, with no hook
        # to hand it the chain key first: bind the key to the class it builds.
        self.application_recorder_class = bound(SpecEventRecorder, env)
        self.aggregate_recorder_class = bound(SnapshotRecorder, env)
        self.process_recorder_class = bound(SpecProjectionRecorder, env)

    def close(self) -> None:
        # The library leaves its engine's pooled connections open when an application
        # closes; a process that opens and closes stores would run the server out of them.
        if self.datastore.engine is not None:
            self.datastore.engine.dispose()  # type: ignore[union-attr]

    def application_recorder(self) -> ApplicationRecorder:
        with schema_lock(self.url):
            recorder = super().application_recorder()
        recorder.url = self.url  # type: ignore[attr-defined]
        # Refuse a key that does not read the store (or a missing one) before anything does.
        check_store(recorder, self.cipher(), self.env)
        return recorder

    def process_recorder(self) -> ProcessRecorder:
        with schema_lock(self.url):
            recorder = super().process_recorder()
        recorder.url = self.url  # type: ignore[attr-defined]
        recorder.content_sealer = ContentSealer(self.cipher())  # type: ignore[attr-defined]
        return recorder

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        with schema_lock(self.url):
            return super().aggregate_recorder(purpose)


def library_env(url: str, cipher: dict[str, str] | None = None) -> dict[str, str]:
    """The ``eventsourcing`` environment of the store at ``url`` (postgresql://...),
    with ``cipher``'s entries (``sealing.cipher_env``) when the store is encrypted."""
    return {"PERSISTENCE_MODULE": TOPIC, "SQLALCHEMY_URL": sqlalchemy_url(url), **(cipher or {})}


def store_exists(url: str, application_name: str) -> bool:
    """Does the database at ``url`` hold the event store of ``application_name``?"""
    with (
        translated(),
        psycopg.connect(
            libpq_url(url), autocommit=True, connect_timeout=CONNECT_TIMEOUT
        ) as connection,
    ):
        table = f"{application_name.lower()}_events"
        row = connection.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])


def check_durable(name: str, described: dict[str, Any]) -> None:
    """Refuse to run unless the server flushes every commit to disk before answering."""
    if described.get("fsync") != "on" or described.get("synchronous_commit") == "off":
        raise OperationalError(f"the {name} store is not durable: {described}")


__all__ = ["Factory", "check_durable", "library_env", "shown", "store_exists"]
