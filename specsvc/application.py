"""The event-sourced application: commands are get -> command -> save, with retries."""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    LRUCache,
    ProcessingEvent,
    Repository,
)
from eventsourcing.persistence import IntegrityError, PersistenceError
from eventsourcing.system import Leader

from specsvc.domainmodel import Spec, spec_id
from specsvc.errors import (
    PreconditionFailed,
    SpecAlreadyExists,
    SpecNotFound,
    SpecServiceError,
    StoreCorrupted,
    Unavailable,
    VersionMismatch,
)
from specsvc.persistence.chain import ChainBroken
from specsvc.persistence.interfaces import (
    ReadModelAltered,
    RememberedAnswer,
    SpecTimelineRecorder,
    TimelineEntry,
)
from specsvc.persistence.sealing import ContentSealer, UnreadableContent

if TYPE_CHECKING:
    from eventsourcing.persistence import Recording

logger = logging.getLogger(__name__)

# Builds the answer to keep under an idempotency key: from the spec after the command,
# the position when it is known (a no-op), and whether the command wrote events.
Remember = Callable[[Spec, "int | None", bool], RememberedAnswer]


class KeyAnswered(Exception):
    """A concurrent request with the same idempotency key was answered first: recall it."""


# Chosen by benchmarks/bench_snapshots.py at 1,000 versions: interval 10 reads the latest
# state in ~0.3 ms (50: ~0.8 ms) for +3.6% on updates and +16% store size.
SNAPSHOT_INTERVAL = 10
# Specs whose latest state a process keeps for its commands (docs/architecture.md, Writes).
AGGREGATE_CACHE_SIZE = 1024
MAX_ATTEMPTS = 20
BACKOFF_BASE = 0.001  # seconds, doubled after each lost race, up to BACKOFF_CAP
BACKOFF_CAP = 0.05


@contextmanager
def store_errors() -> Iterator[None]:
    """Translate the library's storage failures into Unavailable, once, here."""
    try:
        yield
    except IntegrityError:
        raise
    except PersistenceError as error:
        raise Unavailable(f"event store unavailable: {error}") from error
    except UnreadableContent as error:  # a read-model row changed on disk
        raise StoreCorrupted(
            f"{error}: {CHANGED_READ_MODELS}", details={"position": None, "kind": READ_MODEL}
        ) from None


READ_MODEL = "read model differs"
CHANGED_READ_MODELS = (
    "the read models were changed; run specsvc verify, then specsvc rebuild-projections"
)


class SpecApplication(Leader[UUID]):
    """Writes and reads ``Spec`` aggregates; its log is the source of truth."""

    name = "Specs"
    log_section_size = 500
    snapshotting_intervals = {Spec: SNAPSHOT_INTERVAL}

    # The first corruption this process met (docs/behaviour.md, Tamper evidence): the
    # service reports itself unready from then on.
    corruption: StoreCorrupted | None = None
    # The last read-model row found changed on disk, and the spec it belongs to: the
    # service is unready while that spec's rows still fail (a rebuild repairs them).
    read_model_corruption: tuple[StoreCorrupted, UUID] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._corruption_lock = threading.Lock()
        self._corrupt_positions: set[int | None] = set()

    @property
    def timeline(self) -> SpecTimelineRecorder:
        return cast(SpecTimelineRecorder, self.recorder)

    def corrupted(self, error: StoreCorrupted) -> StoreCorrupted:
        """Note ``error`` (logged once per position) and return it, to be raised."""
        position = error.details.get("position")
        with self._corruption_lock:
            if self.corruption is None:
                self.corruption = error
            new = position not in self._corrupt_positions
            self._corrupt_positions.add(position)
        if new:
            logger.error("store corrupted at position %s: %s", position, error.message)
        return error

    def broken(self, error: ChainBroken, spec: UUID) -> StoreCorrupted:
        """StoreCorrupted for a spec's event or snapshot that fails its hash, noted."""
        return self.corrupted(self._as_corrupted(error, spec))

    @contextmanager
    def read_models_checked(self) -> Iterator[None]:
        """store_errors, and a read-model row changed on disk (one that fails its hash,
        or is missing) answered as StoreCorrupted at its event's position, noted."""
        try:
            with store_errors():
                yield
        except StoreCorrupted as error:
            raise self._read_model_corrupted(error, None) from None
        except ReadModelAltered as error:
            position, sequence = error.position, error.sequence
            if position is None and error.spec_id is not None:
                spec = UUID(error.spec_id)
                if sequence is None and error.version is not None:
                    sequence = self.timeline.sequence_of_version(spec, error.version)
                if sequence is not None:
                    position = self.timeline.position_of(spec, sequence)
            corrupted = StoreCorrupted(
                f"{error}: {CHANGED_READ_MODELS}",
                details={"position": position, "kind": READ_MODEL},
            )
            spec_of = UUID(error.spec_id) if error.spec_id else None
            raise self._read_model_corrupted(corrupted, spec_of) from None

    def read_model_lacks(self, spec: UUID, projected: int) -> None:
        """StoreCorrupted (noted) when a spec that the read models are said to hold at
        ``projected`` has no summary there: its row was deleted on disk."""
        position = self.timeline.position_of(spec, 1)
        if position is not None and position <= projected:
            corrupted = StoreCorrupted(
                f"the read models lack the summary of spec {spec}, created at position"
                f" {position}: {CHANGED_READ_MODELS}",
                details={"position": position, "kind": READ_MODEL},
            )
            raise self._read_model_corrupted(corrupted, spec)

    def _read_model_corrupted(self, error: StoreCorrupted, spec: UUID | None) -> StoreCorrupted:
        logger.error(
            "read models corrupted at position %s: %s", error.details.get("position"), error.message
        )
        if spec is not None:
            self.read_model_corruption = (error, spec)
        return error

    def _as_corrupted(self, error: ChainBroken, spec: UUID) -> StoreCorrupted:
        position = error.position
        if position is None and error.version is not None:  # a snapshot: where its event is
            position = self.timeline.position_of(spec, error.version)
        return StoreCorrupted(
            f"{error}; run specsvc verify",
            details={"position": position, "kind": error.kind},
        )

    @property
    def content_sealer(self) -> ContentSealer:
        """Seals what the service stores beside the events with the events' cipher."""
        return ContentSealer(self.mapper.cipher)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save (``Leader`` then ``Application``), collecting a spec's events
        without its check of every object against runtime-checkable protocols (~3% of
        an update on this Python)."""
        if self.previous_max_notification_id is None:
            self.previous_max_notification_id = self.recorder.max_notification_id()
        processing_event = SpecProcessingEvent()
        processing_event.collect_events(*objs, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, as it calls it
        return recordings

    def construct_repository(self) -> SpecRepository:
        size = self.env.get(self.AGGREGATE_CACHE_MAXSIZE)
        return SpecRepository(
            self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(size) if size else AGGREGATE_CACHE_SIZE,
        )

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        processing_event.saved_kwargs["spec_timeline"] = [
            timeline_entry(e) for e in processing_event.events if isinstance(e, Spec.Event)
        ]
        recordings = super()._record(processing_event)
        repository = cast(SpecRepository, self.repository)
        for spec_id_, spec in processing_event.aggregates.items():
            written = sum(1 for e in processing_event.events if e.originator_id == spec_id_)
            repository.advance(spec, written)
        return recordings

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        # A snapshot is an optimisation taken after the commit: never fail a committed write.
        try:
            self._snapshot_saved(processing_event)
        except Exception:
            logger.exception("snapshot failed after commit; reads replay more events")

    def _snapshot_saved(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Every ``snapshotting_intervals[Spec]`` events, a snapshot of the spec as saved. The
        library reads the spec back from the store (snapshot and events) to take it; the
        spec in hand is that state already."""
        interval = self.snapshotting_intervals.get(Spec)
        if self.snapshots is None or not interval:
            return
        snapshot_class = getattr(Spec, "Snapshot", type(self).snapshot_class)
        assert snapshot_class is not None
        for event in processing_event.events:
            spec = processing_event.aggregates.get(event.originator_id)
            version = event.originator_version
            if not isinstance(spec, Spec) or version % interval:
                continue
            if spec.version == version:
                self.snapshots.put([snapshot_class.take(spec)])
            else:  # an earlier event of several saved together: its state is gone
                self.take_snapshot(spec.id, version=version, projector_func=project_spec)

    def create(self, spec: Spec, remember: Remember | None = None) -> int:
        answer = None if remember is None else remember(spec, None, True)
        with store_errors():
            try:
                return self.save(spec, idempotency=answer)[-1].notification.id
            except IntegrityError:
                if answer is not None and self._answered(answer):
                    raise KeyAnswered from None
                raise self._name_taken(spec.name) from None

    def _answered(self, answer: RememberedAnswer) -> bool:
        return self.timeline.recall(answer.principal, answer.key, answer.expired_before) is not None

    def _name_taken(self, name: str) -> SpecAlreadyExists:
        state = self.get(name).state
        if state == "deleted":
            # docs/behaviour.md, Specs: a deleted spec keeps its name, so its history
            # stays the history of one spec.
            return SpecAlreadyExists(
                f"the name {name!r} belongs to a deleted spec; deleted names stay reserved"
                " so that their history stays unambiguous: choose another name",
                details={"name": name, "state": state},
            )
        return SpecAlreadyExists(f"spec {name!r} already exists", details={"name": name})

    def change(
        self,
        name: str,
        command: Callable[[Spec], bool],
        *,
        expected_version: int | None = None,
        expected_revision: int | None = None,
        remember: Remember | None = None,
    ) -> tuple[Spec, int, bool]:
        """Apply ``command`` to the latest state; on a lost race, re-apply to the fresh state.

        Returns the spec, the position of its last event, and whether the command
        recorded one (False for a no-op). With ``remember``, the answer is kept under its
        idempotency key in the same transaction as the events; KeyAnswered when another
        request kept one under the same key first.
        """
        for attempt in range(MAX_ATTEMPTS):
            spec = self.get(name)
            if expected_revision is not None and spec.version != expected_revision:
                raise PreconditionFailed(
                    f"spec {name!r} is at revision {spec.version}, not {expected_revision}",
                    details={"expected_revision": expected_revision, "revision": spec.version},
                )
            if expected_version is not None and spec.content_version != expected_version:
                raise VersionMismatch(
                    f"spec {name!r} is at version {spec.content_version}, not {expected_version}",
                    details={"expected_version": expected_version, "version": spec.content_version},
                )
            base = spec.version
            if not command(spec):
                return spec, self._unchanged(spec, remember), False
            answer = None if remember is None else remember(spec, None, True)
            with store_errors():
                try:
                    return spec, self.save(spec, idempotency=answer)[-1].notification.id, True
                except IntegrityError:
                    if answer is not None and self._answered(answer):
                        raise KeyAnswered from None
                    self._check_conflict(spec, base)
                    logger.info("lost a race on %s, re-applying to the fresh state", name)
            # Racers that retry in step keep colliding: spread them out, more each time.
            time.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)))
        raise Unavailable(f"spec {name!r} is changing too fast; try again")

    def _check_conflict(self, spec: Spec, base: int) -> None:
        """A lost race has a winner: an event after ``base``. A timeline row without one
        means the winner's event was deleted from the log, and no write can ever win."""
        position = self.timeline.position_of(spec.id, base + 1)
        try:
            if position is None or self.recorder.select_events(spec.id, gt=base, lte=base + 1):
                return
        except ChainBroken as error:
            raise self.broken(error, spec.id) from None
        raise self.corrupted(
            StoreCorrupted(
                f"spec {spec.name!r}: its event {base + 1} (position {position}) is gone from"
                " the log but not from its timeline (deleted); run specsvc verify",
                details={"name": spec.name, "position": position, "kind": "deleted"},
            )
        )

    def _unchanged(self, spec: Spec, remember: Remember | None) -> int:
        position = self.position_of(spec)
        if remember is not None:
            with store_errors():
                try:
                    self.timeline.remember(remember(spec, position, False))
                except IntegrityError:
                    raise KeyAnswered from None
        return position

    def head(self) -> int:
        """The position of the last event in the log (0 when it is empty)."""
        with store_errors():
            return self.recorder.max_notification_id() or 0

    def get(self, name: str, sequence: int | None = None) -> Spec:
        with store_errors():
            try:
                return self.repository.get(
                    spec_id(name), version=sequence, projector_func=project_spec
                )
            except AggregateNotFoundError:
                raise SpecNotFound(f"spec {name!r} not found", details={"name": name}) from None
            except ChainBroken as error:  # an event or snapshot that fails its hash
                raise self.broken(error, spec_id(name)) from None
            except (PersistenceError, SpecServiceError):
                raise
            except Exception as error:  # an event or snapshot that cannot be decoded
                raise self.corrupted(self._undecodable(name, error)) from None

    def _undecodable(self, name: str, error: Exception) -> StoreCorrupted:
        """Which stored event of the spec fails to decode; else its snapshot does."""
        spec = spec_id(name)
        position, kind = None, "snapshot differs"
        try:
            events = self.recorder.select_events(spec)
        except ChainBroken as broken:
            return self._as_corrupted(broken, spec)
        for expected, stored in enumerate(events, start=1):
            if stored.originator_version != expected:  # a gap: that event is gone
                position, kind = self.timeline.position_of(spec, expected), "deleted"
                break
            try:
                self.mapper.to_domain_event(stored)
            except Exception:
                position = self.timeline.position_of(spec, stored.originator_version)
                kind = "edited"
                break
        if position is None and self.snapshots is not None:
            snapshot = self.snapshots.recorder.select_events(spec, desc=True, limit=1)
            if snapshot:
                position = self.timeline.position_of(spec, snapshot[0].originator_version)
        return StoreCorrupted(
            f"spec {name!r} cannot be read from the store at position {position} ({kind}:"
            f" {type(error).__name__}); run specsvc verify",
            details={"name": name, "position": position, "kind": kind},
        )

    def get_as_of(self, name: str, moment: datetime) -> Spec:
        with store_errors():
            sequence = self.timeline.sequence_at(spec_id(name), moment)
        if sequence is None:
            raise SpecNotFound(f"spec {name!r} did not exist at {moment.isoformat()}")
        return self.get(name, sequence)

    def content_event(self, spec: Spec, version: int) -> Spec.SpecCreated | Spec.SpecUpdated:
        """The event that wrote a content version: its content, author and reason."""
        with store_errors():
            sequence = self.timeline.sequence_of_version(spec.id, version)
            assert sequence is not None, f"timeline has no version {version} of {spec.name}"
            try:
                (event,) = self.events.get(spec.id, gt=sequence - 1, lte=sequence)
            except ChainBroken as error:
                raise self.broken(error, spec.id) from None
        return cast(Any, event)

    def position_of(self, spec: Spec) -> int:
        with store_errors():
            position = self.timeline.position_of(spec.id, spec.version)
        assert position is not None, f"timeline has no position for {spec.name}"
        return position


class SpecProcessingEvent(ProcessingEvent[UUID]):
    """The library's processing event; a ``Spec`` is known to be an aggregate, so its
    events are collected without asking runtime-checkable protocols what it is."""

    def collect_events(self, *objs: Any, **kwargs: Any) -> None:
        for obj in objs:
            if isinstance(obj, Spec):
                self.events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj
            else:
                super().collect_events(obj)
        self.saved_kwargs.update(kwargs)


class SpecRepository(Repository[UUID]):
    """The library's repository and its LRU cache of aggregates, kept copy-on-write: the
    library fast-forwards a cached aggregate in place, which another thread may be
    copying, and copies with ``deepcopy``; a spec holds only immutable values, so a
    shallow copy with its own list of pending events is a whole one.

    A latest read loads the kept spec and the events recorded after it (one indexed
    read, usually empty) instead of a snapshot and the events since. A spec is first
    kept as read from the store, its links checked (docs/behaviour.md, Tamper evidence);
    a kept spec is then advanced by what this process saves on top of it."""

    def __init__(self, *args: Any, cache_maxsize: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # the library's own cache stays off
        self.kept: LRUCache[UUID, Any] = LRUCache(maxsize=cache_maxsize)

    def get(
        self,
        aggregate_id: UUID,
        *,
        version: int | None = None,
        projector_func: Any = None,
        fastforward_skipping: bool = False,
        deepcopy_from_cache: bool = True,
    ) -> Any:
        project = projector_func or project_spec
        if version is not None:
            return super().get(aggregate_id, version=version, projector_func=project)
        kept = self._kept(aggregate_id)
        if kept is None:
            spec = self._reconstruct_aggregate(aggregate_id, None, project)
        else:
            later = list(self.event_store.get(originator_id=aggregate_id, gt=kept.version))
            if not later:
                return _copied(kept)
            spec = project(_copied(kept), later)
        if kept is None or kept.version < spec.version:
            self.kept.put(aggregate_id, _copied(spec))
        return spec

    def advance(self, spec: Any, written: int) -> None:
        """Keep ``spec`` as just saved, if the state it was saved from is the one kept: it
        is that state and the events ``written`` to the store after it."""
        kept = self._kept(spec.id)
        if kept is not None and kept.version == spec.version - written:
            self.kept.put(spec.id, _copied(spec))

    def _kept(self, aggregate_id: UUID) -> Any:
        try:
            return self.kept.get(aggregate_id)
        except KeyError:
            return None


def _copied(spec: Any) -> Any:
    clone = copy.copy(spec)
    clone.__dict__["_pending_events"] = []
    return clone


def project_spec(spec: Spec | None, events: Iterable[Any]) -> Spec | None:
    """The library's ``project_aggregate`` without its per-event isinstance check against a
    runtime-checkable protocol, which cost more than applying the event."""
    for event in events:
        spec = event.mutate(spec)
    return spec


def timeline_entry(event: Spec.Event) -> TimelineEntry:
    """The timeline row of an event: its position is added when it is stored."""
    return TimelineEntry(
        event.originator_id, event.originator_version, event.timestamp, content_version(event)
    )


def content_version(event: Spec.Event) -> int | None:
    """The content version an event wrote (None for state changes)."""
    if isinstance(event, Spec.SpecCreated):
        return 1
    if isinstance(event, Spec.SpecUpdated):
        return event.version
    return None
