"""The hash chain over the event log (docs/behaviour.md, Tamper evidence).

Every stored event has a link: the position of the event before it in the log, and

    hash = MAC(hash of that event, position, previous position, spec id, sequence,
               topic, stored state)

where MAC is HMAC-SHA-256 under the chain key, or plain SHA-256 when no key is set; the
first event chains to 32 zero bytes. The state is hashed as stored (encrypted, when a
cipher is configured), so the chain is checked without decrypting anything. The links are
written by the event recorders in the transaction that inserts the events, under the
store's single writer (SQLite) or table lock (PostgreSQL), so the chain stays linear
whatever number of processes write.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import struct
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import StoredEvent

logger = logging.getLogger(__name__)

GENESIS = bytes(32)
KEYED, PLAIN = "hmac-sha256", "sha256"

TABLES = {
    "sqlite": [
        "CREATE TABLE IF NOT EXISTS event_chain ("
        "position INTEGER PRIMARY KEY, previous INTEGER NOT NULL, hash BLOB NOT NULL)",
        "CREATE TABLE IF NOT EXISTS event_chain_config ("
        "one INTEGER PRIMARY KEY CHECK (one = 1), algorithm TEXT NOT NULL,"
        " key_id TEXT NOT NULL, chained_at INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS chain_checkpoints ("
        "position INTEGER PRIMARY KEY, hash BLOB NOT NULL, written_at INTEGER NOT NULL)",
    ],
    "postgres": [
        "CREATE TABLE IF NOT EXISTS event_chain ("
        "position BIGINT PRIMARY KEY, previous BIGINT NOT NULL, hash BYTEA NOT NULL)",
        "CREATE TABLE IF NOT EXISTS event_chain_config ("
        "one INTEGER PRIMARY KEY CHECK (one = 1), algorithm TEXT NOT NULL,"
        " key_id TEXT NOT NULL, chained_at BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS chain_checkpoints ("
        "position BIGINT PRIMARY KEY, hash BYTEA NOT NULL, written_at BIGINT NOT NULL)",
    ],
}
SNAPSHOT_TABLES = {
    "sqlite": "CREATE TABLE IF NOT EXISTS snapshot_chain (originator_id TEXT NOT NULL,"
    " originator_version INTEGER NOT NULL, hash BLOB NOT NULL,"
    " PRIMARY KEY (originator_id, originator_version))",
    "postgres": "CREATE TABLE IF NOT EXISTS snapshot_chain (originator_id UUID NOT NULL,"
    " originator_version BIGINT NOT NULL, hash BYTEA NOT NULL,"
    " PRIMARY KEY (originator_id, originator_version))",
}
INSERT_SNAPSHOT_HASH = (
    "INSERT INTO snapshot_chain (originator_id, originator_version, hash)"
    " VALUES (:id, :version, :hash) ON CONFLICT DO NOTHING"
)
SNAPSHOT_HASHES = "SELECT originator_version, hash FROM snapshot_chain WHERE originator_id = :id"
LAST_LINK = "SELECT position, previous, hash FROM event_chain ORDER BY position DESC LIMIT 1"
INSERT_LINK = (
    "INSERT INTO event_chain (position, previous, hash) VALUES (:position, :previous, :hash)"
)
LINKS_AFTER = (
    "SELECT position, previous, hash FROM event_chain WHERE position > :after"
    " ORDER BY position LIMIT :limit"
)
LINK_AT = "SELECT position, previous, hash FROM event_chain WHERE position = :position"
CONFIG = "SELECT algorithm, key_id FROM event_chain_config"
NEW_CONFIG = (
    "INSERT INTO event_chain_config (one, algorithm, key_id, chained_at)"
    " VALUES (1, :algorithm, :key_id, :chained_at)"
)
CHECKPOINTS = "SELECT position, hash FROM chain_checkpoints ORDER BY position DESC LIMIT 1"
NEW_CHECKPOINT = (
    "INSERT INTO chain_checkpoints (position, hash, written_at)"
    " VALUES (:position, :hash, :written_at) ON CONFLICT (position) DO NOTHING"
)


@dataclass(frozen=True)
class Link:
    """An event's place in the chain: its position, the one before it, its hash."""

    position: int
    previous: int
    hash: bytes

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Link:
        return cls(int(row[0]), int(row[1]), bytes(row[2]))

    def params(self) -> dict[str, Any]:
        return {"position": self.position, "previous": self.previous, "hash": self.hash}


class ChainBroken(Exception):
    """A stored event that does not match its link, or has none, or a snapshot that does
    not match its hash (the application layer answers StoreCorrupted)."""

    def __init__(self, position: int | None, kind: str, what: str, version: int | None = None):
        where = f"position {position}" if position is not None else f"event {version}"
        noun = "snapshot" if kind == "snapshot differs" else "stored event"
        super().__init__(f"the {noun} at {where} {what} ({kind})")
        self.position, self.kind, self.version = position, kind, version


class ChainKeyMismatch(Exception):
    """The configured chain key (or its absence) is not the one this store is chained with."""


class Chain:
    """Computes links: HMAC-SHA-256 under ``key``, or SHA-256 without one."""

    def __init__(self, key: bytes | None = None):
        self._key = key or None
        self.algorithm = KEYED if self._key else PLAIN
        # Names the key without revealing it, so a wrong key is told from tampering.
        self.key_id = "" if self._key is None else self._mac(b"specsvc chain key id").hex()[:16]
        # The read-model rows' key, derived from the chain key (BLAKE2b takes 64 bytes).
        self._row_key = b"" if self._key is None else self._mac(b"specsvc row key")

    def _mac(self, data: bytes) -> bytes:
        if self._key is None:
            return hashlib.sha256(data).digest()
        return hmac.digest(self._key, data, "sha256")  # one call into OpenSSL

    def hash(
        self,
        previous_hash: bytes,
        position: int,
        previous: int,
        originator_id: Any,
        version: int,
        topic: str,
        state: bytes,
    ) -> bytes:
        topic_bytes = topic.encode("utf-8")
        return self._mac(
            b"".join(
                (
                    previous_hash,
                    struct.pack(">qq", position, previous),
                    as_uuid(originator_id).bytes,
                    struct.pack(">qI", version, len(topic_bytes)),
                    topic_bytes,
                    struct.pack(">Q", len(state)),
                    bytes(state),
                )
            )
        )

    def links(self, last: Link | None, events: Iterable[tuple[int, Any]]) -> Iterator[Link]:
        """The links of stored ``events`` (``(position, StoredEvent)``, in log order)
        appended after ``last`` (None: the log was empty)."""
        previous, previous_hash = (0, GENESIS) if last is None else (last.position, last.hash)
        for position, stored in events:
            digest = self.hash(
                previous_hash,
                position,
                previous,
                stored.originator_id,
                stored.originator_version,
                stored.topic,
                stored.state,
            )
            yield Link(position, previous, digest)
            previous, previous_hash = position, digest

    def snapshot_hash(self, originator_id: Any, version: int, topic: str, state: bytes) -> bytes:
        """A snapshot's own hash: a snapshot sits outside the log, so it is not linked,
        but one edited or forged without the key does not match it."""
        topic_bytes = topic.encode("utf-8")
        return self._mac(
            b"".join(
                (
                    b"specsvc snapshot\0",
                    as_uuid(originator_id).bytes,
                    struct.pack(">qI", version, len(topic_bytes)),
                    topic_bytes,
                    bytes(state),
                )
            )
        )

    def row_hash(self, table: str, values: Sequence[Any]) -> str:
        """A read-model row's hash (docs/behaviour.md, Tamper evidence) over the row's
        table and its values (text, integers or None): a row cannot be edited, nor moved
        to another table, without the key."""
        # repr of a tuple of text, integers and None is unambiguous (text is quoted and
        # escaped) and costs one call, where a hand-rolled encoding costs one per value.
        # Keyed BLAKE2b, not HMAC: one call per row read, at a third of HMAC's cost.
        encoded = repr((table, *values)).encode("utf-8", "surrogatepass")
        return hashlib.blake2b(encoded, key=self._row_key, digest_size=32).hexdigest()

    def snapshot_rows(self, stored: Sequence[Any], originator_id: Any) -> list[dict[str, Any]]:
        """The snapshot_chain rows of newly stored snapshots (``originator_id`` as the
        snapshots table stores it)."""
        return [
            {
                "id": originator_id(s.originator_id),
                "version": s.originator_version,
                "hash": self.snapshot_hash(s.originator_id, s.originator_version, s.topic, s.state),
            }
            for s in stored
        ]

    def rows_after(
        self, last: Sequence[Any] | None, positions: Sequence[int], stored: Sequence[Any]
    ) -> list[dict[str, Any]]:
        """The chain rows to insert for newly stored events, after the ``last`` row read
        in the same transaction (None when the chain is empty)."""
        previous = None if last is None else Link.from_row(last)
        links = self.links(previous, zip(positions, stored, strict=True))
        return [link.params() for link in links]

    def matches(self, link: Link, previous_hash: bytes, stored: Any) -> bool:
        expected = self.hash(
            previous_hash,
            link.position,
            link.previous,
            stored.originator_id,
            stored.originator_version,
            stored.topic,
            stored.state,
        )
        return hmac.compare_digest(expected, link.hash)

    def config_params(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "key_id": self.key_id,
            "chained_at": time.time_ns() // 1000,
        }

    def chained_existing(self, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        """The chain rows of events stored before the chain existed: ``rows`` of
        (position, originator id, version, topic, state), in position order; logged."""
        events = ((row[0], StoredEvent(row[1], row[2], row[3], bytes(row[4]))) for row in rows)
        links = [link.params() for link in self.links(None, events)]
        if links:
            logger.warning(
                "hash chain: chained the %d events stored before it existed (once, %s)",
                len(links),
                self.algorithm,
            )
        return links

    def check_config(self, algorithm: str, key_id: str) -> None:
        """ChainKeyMismatch unless this store was chained with this key (or no key)."""
        if (algorithm, key_id) == (self.algorithm, self.key_id):
            return
        if algorithm == KEYED and self._key is None:
            raise ChainKeyMismatch(
                "this store's hash chain is keyed: set SPECSVC_CHAIN_KEY_FILE to its chain key"
            )
        if algorithm == PLAIN:
            raise ChainKeyMismatch(
                "this store's hash chain has no key, but SPECSVC_CHAIN_KEY_FILE names one: a"
                " store keeps the chain it was created with (unset SPECSVC_CHAIN_KEY_FILE)"
            )
        raise ChainKeyMismatch(
            f"SPECSVC_CHAIN_KEY_FILE holds another key (id {self.key_id}) than the one this"
            f" store is chained with (id {key_id})"
        )


CHAIN_KEY = "CHAIN_KEY"  # the library environment's key: the chain key, base64


R = TypeVar("R")


def bound(recorder_class: type[R], env: Any) -> type[R]:
    """``recorder_class`` with the chain that the library environment's key names."""
    key = env.get(CHAIN_KEY)
    chain = Chain(base64.b64decode(key) if key else None)
    return type(recorder_class.__name__, (recorder_class,), {"chain": chain})


def checkpoint_params(position: int, digest: bytes) -> dict[str, Any]:
    return {"position": position, "hash": digest, "written_at": time.time_ns() // 1000}


def as_uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def read_key_file(path: str) -> bytes:
    """A chain key file: at least 32 random bytes, as base64 text (``openssl rand
    -base64 32``) or raw; ValueError with a one-line reason otherwise."""
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except OSError as error:
        raise ValueError(f"cannot read the chain key file {path}: {error.strerror}") from None
    text = raw.strip()
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = raw
    if len(key) < 32:
        raise ValueError(
            f"the chain key file {path} holds {len(key)} bytes; a chain key has at least 32"
            " (openssl rand -base64 32 > FILE)"
        )
    return key


def select_checked_sql(
    table: str, position: str, gt: bool, lte: bool, desc: bool, limit: bool
) -> str:
    """An aggregate's events with their links and the hash each chains to (named
    parameters ``id``, ``gt``, ``lte``, ``limit``)."""
    return (
        f"SELECT e.{position}, e.originator_version, e.topic, e.state,"
        " c.previous, c.hash, p.hash"
        f" FROM {table} e LEFT JOIN event_chain c ON c.position = e.{position}"
        " LEFT JOIN event_chain p ON p.position = c.previous" + _window("e", gt, lte, desc, limit)
    )


def _window(alias: str, gt: bool, lte: bool, desc: bool, limit: bool) -> str:
    """WHERE, ORDER BY and LIMIT of one aggregate's rows in a version window."""
    where = [f"{alias}.originator_id = :id"]
    if gt:
        where.append(f"{alias}.originator_version > :gt")
    if lte:
        where.append(f"{alias}.originator_version <= :lte")
    return (
        f" WHERE {' AND '.join(where)}"
        f" ORDER BY {alias}.originator_version {'DESC' if desc else 'ASC'}"
        + (" LIMIT :limit" if limit else "")
    )


def select_snapshots_sql(table: str, gt: bool, lte: bool, desc: bool, limit: bool) -> str:
    """An aggregate's snapshots that carry a hash, with it; one without (taken before
    the chain existed, or forged) is never read, and the events are replayed instead."""
    return (
        "SELECT s.originator_version, s.topic, s.state, h.hash"
        f" FROM {table} s JOIN snapshot_chain h ON h.originator_id = s.originator_id"
        " AND h.originator_version = s.originator_version" + _window("s", gt, lte, desc, limit)
    )


def checked_snapshots(chain: Chain, originator_id: Any, rows: Iterable[Sequence[Any]]) -> list[Any]:
    """The snapshots of ``rows`` (from ``select_snapshots_sql``), each checked against
    its hash; ChainBroken names the first that fails."""
    snapshots = []
    for version, topic, state, digest in rows:
        state = bytes(state) if isinstance(state, memoryview) else state
        expected = chain.snapshot_hash(originator_id, version, topic, state)
        if not hmac.compare_digest(expected, bytes(digest)):
            raise ChainBroken(None, "snapshot differs", "does not match its hash", version)
        snapshots.append(
            StoredEvent(
                originator_id=originator_id, originator_version=version, topic=topic, state=state
            )
        )
    return snapshots


def checked_events(chain: Chain, originator_id: Any, rows: Iterable[Sequence[Any]]) -> list[Any]:
    """The stored events of ``rows`` (from ``select_checked_sql``), each checked against
    its link; StoreCorrupted names the first position that fails."""
    events = []
    for position, version, topic, state, previous, digest, previous_digest in rows:
        stored = StoredEvent(
            originator_id=originator_id,
            originator_version=version,
            topic=topic,
            state=bytes(state) if isinstance(state, memoryview) else state,
        )
        if digest is None:
            raise ChainBroken(position, "inserted", "is not in the hash chain")
        if previous and previous_digest is None:
            raise ChainBroken(previous, "deleted", "is missing from the hash chain")
        link = Link(position, previous, bytes(digest))
        if not chain.matches(link, bytes(previous_digest or GENESIS), stored):
            raise ChainBroken(position, "edited", "does not match its chain hash")
        events.append(stored)
    return events


class WindowedSelects:
    """``select_events`` as a window (gt, lte, desc, limit) of rows, made into events."""

    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[Any]:
        window = (gt is not None, lte is not None, desc, limit is not None)
        params = {"id": originator_id, "gt": gt, "lte": lte, "limit": limit}
        return self._events(originator_id, self._window_rows(window, params))

    def _window_rows(
        self, window: tuple[bool, bool, bool, bool], params: dict[str, Any]
    ) -> list[Sequence[Any]]:
        raise NotImplementedError

    def _events(self, originator_id: Any, rows: list[Sequence[Any]]) -> list[Any]:
        raise NotImplementedError


class ChainedLog(WindowedSelects):
    """The reads of the chain that both event recorders share (they define ``_fetch_all``
    and the writes, which run in their own transactions)."""

    chain: Chain = Chain()

    def _fetch_all(self, statement: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _events(self, originator_id: Any, rows: list[Sequence[Any]]) -> list[Any]:
        # Each event is read with its link and checked against the chain, so that a spec
        # is never served from an edited, forged or orphaned event.
        return checked_events(self.chain, originator_id, rows)

    def _window_rows(
        self, window: tuple[bool, bool, bool, bool], params: dict[str, Any]
    ) -> list[Sequence[Any]]:
        """The rows of ``select_checked_sql`` for ``window`` (gt, lte, desc, limit)."""
        raise NotImplementedError

    def ensure_chain(self) -> None:
        """Chain a store written before the chain existed (once), or check that the
        configured key is the one the store is chained with."""
        config = self.chain_config()
        if config is None:
            self._chain_existing()
        else:
            self.chain.check_config(*config)

    def _chain_existing(self) -> None:
        """In one write transaction: recheck the config, write it, link every event."""
        raise NotImplementedError

    def select_links(self, after: int, limit: int) -> list[Link]:
        rows = self._fetch_all(LINKS_AFTER, {"after": after, "limit": limit})
        return [Link.from_row(row) for row in rows]

    def link_at(self, position: int) -> Link | None:
        rows = self._fetch_all(LINK_AT, {"position": position})
        return Link.from_row(rows[0]) if rows else None

    def last_link(self) -> Link | None:
        rows = self._fetch_all(LAST_LINK, {})
        return Link.from_row(rows[0]) if rows else None

    def chain_config(self) -> tuple[str, str] | None:
        rows = self._fetch_all(CONFIG, {})
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def record_checkpoint(self, position: int, digest: bytes) -> None:
        """Remember a checkpoint's head, so that start-up checks the chain after it."""
        raise NotImplementedError

    def newest_checkpoint(self) -> tuple[int, bytes] | None:
        rows = self._fetch_all(CHECKPOINTS, {})
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else None
