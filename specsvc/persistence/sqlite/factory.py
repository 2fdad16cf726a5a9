"""The library's SQLite factory with durable connections and this service's recorders.

Selected by ``PERSISTENCE_MODULE=specsvc.persistence.sqlite.factory:Factory``; each
application gets its own database file (see ``files.py``).
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from eventsourcing.persistence import ApplicationRecorder, ProcessRecorder
from eventsourcing.sqlite import SQLiteFactory

from specsvc.persistence.chain import bound
from specsvc.persistence.sealing import ContentSealer, check_store
from specsvc.persistence.sqlite.datastore import SYNCHRONOUS, DurableDatastore
from specsvc.persistence.sqlite.events import SpecEventRecorder
from specsvc.persistence.sqlite.files import projections_path
from specsvc.persistence.sqlite.readmodel import SpecProjectionRecorder
from specsvc.persistence.sqlite.snapshots import SnapshotRecorder

TOPIC = f"{__name__}:Factory"


class Factory(SQLiteFactory):
    """Durable connections, the event store with its timeline, and the read models."""

    application_recorder_class = SpecEventRecorder
    process_recorder_class = SpecProjectionRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        # The library builds its datastore in __init__ with no hook; swap in the durable one.
        old = self.datastore
        self.datastore = DurableDatastore(
            old.pool.db_name,
            synchronous=self.env.get(SYNCHRONOUS, "FULL"),
            lock_timeout=old.pool.lock_timeout,
            single_row_tracking=old.single_row_tracking,
            originator_id_type=old.originator_id_type,
        )
        old.close()
        # The library builds a recorder and creates its tables in one call, with no hook
        # to hand it the chain key first: bind the key to the class it builds.
        self.application_recorder_class = bound(SpecEventRecorder, env)
        self.aggregate_recorder_class = bound(SnapshotRecorder, env)
        self.process_recorder_class = bound(SpecProjectionRecorder, env)

    def application_recorder(self) -> ApplicationRecorder:
        # Refuse a key that does not read the store (or a missing one) before anything does.
        recorder = super().application_recorder()
        check_store(recorder, self.cipher(), self.env)
        return recorder

    def process_recorder(self) -> ProcessRecorder:
        recorder = super().process_recorder()
        recorder.content_sealer = ContentSealer(self.cipher())  # type: ignore[attr-defined]
        return recorder


def library_env(
    events_app: str,
    projections_app: str,
    db: str | None,
    lock_timeout: int,
    cipher: dict[str, str] | None = None,
) -> dict[str, str]:
    """The ``eventsourcing`` environment: one database per application.

    ``db`` is the event store's file, or None for a private pair of in-memory databases;
    ``cipher`` holds the cipher's entries (``sealing.cipher_env``) of an encrypted store.
    """
    if db is None:
        events, projections = memory_database("events"), memory_database("projections")
    else:
        events, projections = db, projections_path(db)
    return {
        "PERSISTENCE_MODULE": TOPIC,
        f"{events_app.upper()}_SQLITE_DBNAME": events,
        f"{projections_app.upper()}_SQLITE_DBNAME": projections,
        # The read models are rebuilt from the events: one durable commit per command.
        f"{projections_app.upper()}_{SYNCHRONOUS}": "NORMAL",
        "SQLITE_LOCK_TIMEOUT": str(lock_timeout),
        **(cipher or {}),
    }


def scratch_env(env: dict[str, str], projections_app: str) -> dict[str, str]:
    """``env`` with the read models of ``projections_app`` in a fresh in-memory database.

    The rest of ``env`` (the leader's database, transcoding, ciphers) stays, because a
    follower reads its leader's events with a mapper built from the same environment:
    when the leader's store is not a SQLite file, that mapper's factory gets a scratch
    database of its own, which it never uses.
    """
    key = f"{projections_app.upper()}_SQLITE_DBNAME"
    leader_default = env.get("SQLITE_DBNAME") or memory_database("unused")
    return {
        **env,
        "PERSISTENCE_MODULE": TOPIC,
        key: memory_database("rebuild"),
        "SQLITE_DBNAME": leader_default,
    }


def memory_database(purpose: str) -> str:
    """A private in-memory database, shared by the connections of this process only."""
    return f"file:specsvc-{uuid4().hex}-{purpose}?mode=memory&cache=shared"
