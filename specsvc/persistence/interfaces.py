"""Recorder interfaces that extend the library's recorders for this service.

Each backend package (``specsvc.persistence.sqlite``, ``specsvc.persistence.postgres``) implements
them by subclassing the library's recorders, as the library's examples do. Code above
the persistence layer (the application, the service, the operator tools) talks to
these interfaces and to the library's own recorder methods, never to a backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from eventsourcing.persistence import StoredEvent

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """Whole microseconds since the epoch: a sortable integer for any UTC instant."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, tz=UTC).replace(
        microsecond=micros % 1_000_000
    )


@dataclass(frozen=True)
class TimelineEntry:
    """One stored event of a spec, indexed in the same transaction as the event."""

    spec_id: UUID
    sequence: int
    timestamp: datetime
    content_version: int | None


class SpecTimelineRecorder(ABC):
    """Event-store side index: positions, content versions and timestamps by spec.

    Written with the events (kwarg ``spec_timeline``), so it is exact, unlike a projection.
    """

    @abstractmethod
    def position_of(self, spec_id: UUID, sequence: int) -> int | None:
        """The global log position of one event of a spec."""

    @abstractmethod
    def last_position(self, spec_id: UUID) -> int | None:
        """The global log position of a spec's newest event (None: no such spec)."""

    @abstractmethod
    def projected_counts(self, upto: int) -> dict[str, int]:
        """The rows each read-model table holds once the log is projected up to
        position ``upto``: one summary per spec, one version per content change, one
        audit row per event."""

    @abstractmethod
    def sequence_of_version(self, spec_id: UUID, content_version: int) -> int | None:
        """The sequence number of the event that produced a content version."""

    @abstractmethod
    def sequence_at(self, spec_id: UUID, moment: datetime) -> int | None:
        """The sequence number of the spec's last event at or before ``moment``."""

    @abstractmethod
    def select_timeline(
        self, after: tuple[UUID, int] | None, limit: int
    ) -> list[tuple[int, TimelineEntry]]:
        """Up to ``limit`` timeline rows, each with its position, in (spec id, sequence)
        order after ``after`` (from the start when None): for comparing two stores."""

    @abstractmethod
    def store_id(self) -> str:
        """The identity given to this event store when it was created; copies keep it."""

    @abstractmethod
    def insert_at_positions(
        self,
        events: Iterable[PositionedEvent],
        *,
        store_id: str | None = None,
        answers: Iterable[RememberedAnswer] = (),
    ) -> None:
        """Insert stored events at the log positions they had elsewhere (an import into
        an empty store, a migration), each with its timeline row, in one transaction.

        ``events`` may be a generator: it is consumed inside the transaction, so a whole
        store can be copied without holding it in memory, and a failure or an interruption
        part-way commits nothing. With ``store_id`` this store takes that identity in the
        same transaction (a copy keeps the identity of its original), and keeps
        ``answers`` (``remembered()`` of the original) under their idempotency keys."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Where the store lives and the durability settings in force."""

    @abstractmethod
    def recall(self, principal: str, key: str, since: datetime) -> RememberedAnswer | None:
        """The answer remembered under a principal's idempotency key, if recorded since."""

    @abstractmethod
    def remembered(self) -> list[RememberedAnswer]:
        """Every answer kept under an idempotency key, by principal and key: for a copy
        (``expired_before`` is the epoch)."""

    @abstractmethod
    def remember(self, answer: RememberedAnswer) -> None:
        """Keep the answer of a command that wrote no event, in a transaction of its own.
        (A command that writes events passes its answer to ``insert_events`` as the
        keyword ``idempotency``, so the answer is kept exactly when the events are.)"""


@dataclass(frozen=True)
class RememberedAnswer:
    """A command's answer kept under its idempotency key (docs/behaviour.md, Idempotent
    retries). ``position`` is None until stored with events: then it is their last.
    Answers recorded before ``expired_before`` are forgotten when this one is kept."""

    principal: str
    key: str
    request_sha256: str
    answer: str
    recorded_at: datetime
    expired_before: datetime
    position: int | None = None


@dataclass(frozen=True)
class PositionedEvent:
    """A stored event with the log position it must keep, and its timeline row."""

    position: int
    stored: StoredEvent
    timeline: TimelineEntry


@dataclass(frozen=True)
class EventRow:
    """A spec event flattened for the read models (kwarg ``spec_event``)."""

    event: str
    spec_id: UUID
    sequence: int
    timestamp: datetime
    actor: str
    correlation_id: str
    reason: str | None
    name: str | None = None
    type: str | None = None
    content: str | None = None
    content_sha256: str | None = None
    version: int | None = None
    from_state: str | None = None
    to_state: str | None = None
    published_version: int | None = None


class ReadModelAltered(Exception):
    """A read-model row that does not match its hash, or is missing where the rows
    around it say it must be (the application layer answers StoreCorrupted)."""

    def __init__(
        self,
        what: str,
        spec_id: str | None,
        sequence: int | None = None,
        position: int | None = None,
        version: int | None = None,
    ):
        super().__init__(what)
        self.spec_id, self.sequence, self.position = spec_id, sequence, position
        self.version = version  # a content version: where its event is, when no sequence


@dataclass(frozen=True)
class SummaryQuery:
    state: str | None
    type: str | None
    name_prefix: str | None
    after_name: str | None
    limit: int


@dataclass(frozen=True)
class EventQuery:
    after: int
    limit: int
    actor: str | None
    spec_id: UUID | None
    since: datetime | None
    until: datetime | None


class SpecReadModelRecorder(ABC):
    """The projections' tables: summaries, versions with published content, audit index."""

    @abstractmethod
    def select_summaries(self, query: SummaryQuery) -> list[dict[str, Any]]:
        """Summaries ordered by name, after ``after_name``, at most ``limit``."""

    @abstractmethod
    def select_summary(self, spec_id: UUID) -> dict[str, Any] | None:
        """One summary row, including deleted specs."""

    @abstractmethod
    def select_published(self, spec_id: UUID) -> dict[str, Any] | None:
        """A summary row plus ``content`` of its published version (None if unpublished)."""

    @abstractmethod
    def select_version(self, spec_id: UUID, version: int) -> dict[str, Any] | None:
        """One version row with its content."""

    @abstractmethod
    def select_versions(self, spec_id: UUID) -> list[dict[str, Any]]:
        """Every version row of a spec without content, oldest first."""

    @abstractmethod
    def select_audit(self, query: EventQuery) -> list[dict[str, Any]]:
        """Audit rows in position order."""

    @abstractmethod
    def select_history(self, spec_id: UUID) -> list[dict[str, Any]]:
        """Audit rows of one spec, oldest first."""

    @abstractmethod
    def project_batch(
        self, leader: str, batch: Sequence[tuple[int, EventRow | None]], *, after: int | None = None
    ) -> None:
        """Project consecutive events of ``leader`` (positions in order, with their rows,
        None where an event changes no read model) in one transaction, tracked (and,
        where the backend announces positions, announced) at the last position;
        IntegrityError, and nothing written, if the tracking record is already at or
        past the first, or, with ``after``, if it does not stand exactly there (0: no
        record yet)."""

    @abstractmethod
    def max_position(self) -> int:
        """The position of the last projected event (0 when none)."""

    @abstractmethod
    def dump_tables(self) -> dict[str, TableDump]:
        """Every read-model row, ordered: for comparing a rebuild with the original."""

    @abstractmethod
    def row_counts(self) -> dict[str, int]:
        """Rows per read-model table."""

    @abstractmethod
    def replace_with(
        self,
        fresh: SpecReadModelRecorder,
        leader: str,
        *,
        finish: Callable[[], None] | None = None,
        force: bool = False,
    ) -> bool:
        """Replace every read-model row, the binding and the tracking record of ``leader``
        with ``fresh``'s, in one transaction: readers see the old model or the new one.

        ``finish`` runs once this model's writers are held off, just before the copy: it
        brings ``fresh`` up to date, so a rebuild completes however busy the store is.
        False (nothing changed) when this model has tracked past ``fresh`` anyway: moving
        its tracking back would lose what was projected in between; with ``force`` (these
        read models belong to another store) it is replaced regardless.
        """

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Where the read models live and the durability settings in force."""

    @abstractmethod
    def bound_store(self) -> str | None:
        """The identity of the event store these read models were built from, if known."""

    @abstractmethod
    def bind(self, store_id: str) -> None:
        """Record that these read models are built from the event store ``store_id``."""

    @abstractmethod
    def reset(self, store_id: str, leader: str) -> None:
        """Empty every read model and the tracking record of ``leader`` and bind them to
        ``store_id``, in one transaction: the next catch-up rebuilds them from scratch."""


@dataclass(frozen=True)
class TableDump:
    """A table's column names and its rows, ordered by its key."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    key_width: int = 1


class ProjectionFeed(ABC):
    """Positions announced by projection transactions as they commit, heard on a
    connection of its own (one per process, never one per reader)."""

    @abstractmethod
    def wait(self, timeout: float) -> int | None:
        """The highest position announced within ``timeout`` seconds, or None if none
        was; raises the backend's error when the connection is lost (the next call
        reconnects, and a caller should re-read the tracking record then)."""

    @abstractmethod
    def close(self) -> None:
        """Stop listening."""


class Lease(ABC):
    """A claim on an exclusive lock that outlives no process."""

    @abstractmethod
    def acquire(self) -> bool:
        """Take the lock if it is free (no waiting); True while this lease holds it."""

    @abstractmethod
    def held(self) -> bool:
        """Whether this lease still holds the lock (False once its connection is lost)."""

    @abstractmethod
    def close(self) -> None:
        """Give the lock up."""


class SharedReadModel(ABC):
    """What read models shared by processes on several machines add: one projector at
    a time, and announcements of what it has projected. (A SQLite file, shared only by
    processes on one machine, needs neither.)"""

    @abstractmethod
    def projector_lock(self) -> AbstractContextManager[Lease]:
        """A claim on the projector's lock, given up when the block ends (or when this
        process dies, however it dies)."""

    @abstractmethod
    def projector_running(self) -> bool:
        """Whether some process holds the projector's lock now."""

    @abstractmethod
    def projected_feed(self) -> ProjectionFeed:
        """A new listener for the positions projection transactions announce."""
