"""The projection worker (``specsvc project``): one process keeps the shared read models.

It holds the projector's lock while it projects; a second worker waits as a standby and
takes over when the first dies (its lock dies with its connection). Projection is the
library's ``EventSourcedProjectionRunner``: it catches up from the tracking record, then
follows new commits as the event store announces them. Events already waiting are
projected in batches: up to BATCH_LIMIT of them, their read-model rows and one tracking
record commit together; a lone event commits by itself, without waiting for company.
The tracking record only moves forward, so nothing is applied twice, even by two
workers that both believe they hold the lock.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from threading import Event
from traceback import format_exc
from typing import Any, TypedDict, cast
from uuid import UUID
from warnings import warn

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.projection import ApplicationSubscription, EventSourcedProjectionRunner

from specsvc.application import SpecApplication, store_errors
from specsvc.cache import PUBLISHED, SPEC, CacheStatus, NoCache, QueryCache
from specsvc.domainmodel import Spec
from specsvc.errors import Unavailable
from specsvc.observability.metrics import (
    PROJECTED_EVENTS,
    PROJECTION_DELAY,
    PROJECTION_HEALTHY,
    PROJECTION_LAG,
    PROJECTION_RESTARTS,
    WORKER_ACTIVE,
)
from specsvc.persistence.interfaces import (
    Lease,
    SharedReadModel,
    SpecReadModelRecorder,
    SpecTimelineRecorder,
)
from specsvc.projections import Batch, SpecProjections, binding_problem

logger = logging.getLogger(__name__)

STANDBY_POLL = 0.5  # how often a standby asks for the lock
LEASE_CHECK = 1.0  # how often an active worker makes sure it still holds it
RESTART_DELAY = 1.0  # after a failure, before trying again
BATCH_LIMIT = 500  # most events projected in one transaction (one page of the subscription)


# What a spec event sets in the cache: (kind, spec id) to value, read from the
# application and the read models as they are right after the event's commit.
CacheEntries = Callable[
    [SpecApplication, SpecReadModelRecorder, Spec.Event], Mapping[tuple[str, UUID], Any]
]


class WorkerStatus(TypedDict):
    state: str  # "starting", "standby", "active" or "stopped"
    position: int
    head: int
    lag: int
    error: str | None
    cache: CacheStatus


class CountedProjections(SpecProjections):
    """The projections, counting what they project and how long after it was written."""

    name = SpecProjections.name  # the library would name it after this class

    def process_event(self, domain_event: DomainEventProtocol[UUID], tracking: Tracking) -> None:
        super().process_event(domain_event, tracking)
        self._count(domain_event)

    def process_batch(self, batch: Batch, *, after: int | None = None) -> None:
        super().process_batch(batch, after=after)
        for domain_event, _ in batch:
            self._count(domain_event)

    @staticmethod
    def _count(domain_event: DomainEventProtocol[UUID]) -> None:
        PROJECTED_EVENTS.inc()
        written = getattr(domain_event, "timestamp", None)
        if written is not None:
            PROJECTION_DELAY.observe(max(0.0, time.time() - written.timestamp()))


def pulled(subscription: ApplicationSubscription[UUID], limit: int) -> Batch:
    """Up to ``limit`` events the subscription has already pulled, without waiting."""
    # PostgreSQL's subscription (persistence/postgres/subscription.py) has take_pulled.
    take = getattr(subscription.subscription, "take_pulled", None)
    if take is None or limit <= 0:
        return []
    return [
        (subscription.mapper.to_domain_event(n), Tracking(subscription.name, n.id))
        for n in take(limit)
    ]


class BatchingProjectionRunner(EventSourcedProjectionRunner[SpecApplication, CountedProjections]):
    # Subclassed because the library's loop commits one transaction per event, fewer
    # per second than several API instances write (docs/architecture.md, section 7.1).

    @staticmethod
    def _process_events_loop(  # type: ignore[override]
        subscription: ApplicationSubscription[UUID],
        projection: CountedProjections,
        is_stopping: Event,
        runner: weakref.ReferenceType[BatchingProjectionRunner],
    ) -> None:
        """The library's loop, projecting what is already pulled in batches."""
        try:
            for domain_event, tracking in subscription:
                rest = pulled(subscription, BATCH_LIMIT - 1)
                if rest:
                    projection.process_batch([(domain_event, tracking), *rest])
                else:
                    projection.process_event(domain_event, tracking)
        except BaseException as error:
            _runner = runner()
            if _runner is not None:
                _runner._thread_error = error
            else:
                warn(
                    "the projection runner was deleted before its error was kept:\n" + format_exc(),
                    RuntimeWarning,
                    stacklevel=2,
                )
        finally:
            is_stopping.set()


class ProjectionWorker:
    """Runs the projections of the store ``env`` names, while it holds the lock, and
    keeps the query cache in step with them (docs/architecture.md, Query cache)."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.cache: QueryCache = NoCache()
        self._entries: CacheEntries | None = None
        self.application = SpecApplication(env=env)
        self.projections = SpecProjections(env=env)
        self.state = "starting"
        self.error: str | None = None
        self._stopping = threading.Event()

    @property
    def read_model(self) -> SharedReadModel:
        return cast(SharedReadModel, self.projections.read_model)

    def describe(self) -> dict[str, Any]:
        """Where the stores live and the durability settings in force."""
        with store_errors():
            return {
                "events": self.application.timeline.describe(),
                "projections": self.projections.read_model.describe(),
            }

    def use_cache(self, cache: QueryCache, entries: CacheEntries) -> None:
        """Keep ``cache`` in step: after each commit, set what ``entries`` reads."""
        self.cache = cache
        self._entries = entries

    def stop(self) -> None:
        self._stopping.set()

    def close(self) -> None:
        self.stop()
        self.application.close()
        self.projections.close()
        self.cache.close()

    def run(self) -> None:
        """Stand by for the lock, project while holding it, recover from failures; return
        once ``stop`` is called."""
        while not self._stopping.is_set():
            try:
                with self.read_model.projector_lock() as lease:
                    if self._stand_by(lease):
                        self._project(lease)
            except Exception as error:
                self._failed(error)
                self._stopping.wait(RESTART_DELAY)
        self.state = "stopped"
        WORKER_ACTIVE.set(0)

    def status(self) -> WorkerStatus:
        """Where the read models stand against the event store."""
        with store_errors():
            head = self.application.recorder.max_notification_id() or 0
            position = self.projections.recorder.max_tracking_id(self.application.name) or 0
        lag = max(0, head - position)
        PROJECTION_LAG.set(lag)
        healthy = self.error is None and self.state in ("standby", "active")
        PROJECTION_HEALTHY.set(1 if healthy and (lag == 0 or self.state == "active") else 0)
        return {
            "state": self.state,
            "position": position,
            "head": head,
            "lag": lag,
            "error": self.error,
            "cache": self.cache.status(),
        }

    def _stand_by(self, lease: Lease) -> bool:
        """Wait for the lock; False when stopped first."""
        announced = False
        while not lease.acquire():
            if not announced:
                logger.info("another worker holds the projector's lock; standing by")
                announced = True
            self.state = "standby"
            self.error = None
            if self._stopping.wait(STANDBY_POLL):
                return False
        return True

    def _project(self, lease: Lease) -> None:
        self.state = "active"
        WORKER_ACTIVE.set(1)
        # Entries written by a worker that died between a commit and its cache update
        # may be older than the read models: none of them is used again.
        self.cache.renew()
        self._check_binding()
        start = self.projections.recorder.max_tracking_id(self.application.name) or 0
        logger.info("projecting from position %d", start)
        runner = BatchingProjectionRunner(
            application_class=SpecApplication,
            projection_class=self._projection_class(),
            env=self.env,
        )
        try:
            with runner:
                self.error = None
                while not self._stopping.is_set():
                    runner.run_forever(timeout=LEASE_CHECK)  # raises what the runner hit
                    self.cache.maintain()
                    if runner.is_interrupted.is_set() and not self._stopping.is_set():
                        raise Unavailable("the projection runner stopped")
                    if not lease.held():
                        raise Unavailable("lost the projector's lock (its connection)")
        finally:
            WORKER_ACTIVE.set(0)

    def _projection_class(self) -> type[CountedProjections]:
        """The projections, followed by a cache update after each commit."""
        if not self.cache.enabled or self._entries is None:
            return CountedProjections
        cached = self._cached

        class CachedProjections(CountedProjections):
            name = SpecProjections.name

            def process_event(
                self, domain_event: DomainEventProtocol[UUID], tracking: Tracking
            ) -> None:
                super().process_event(domain_event, tracking)  # committed when it returns
                if isinstance(domain_event, Spec.Event):
                    cached(domain_event, tracking.notification_id)

            def process_batch(self, batch: Batch, *, after: int | None = None) -> None:
                super().process_batch(batch, after=after)  # committed when it returns
                # A spec's entries change only with its own events: its last one in the
                # batch gives what they are from its position to the batch's end.
                last: dict[UUID, tuple[Spec.Event, int]] = {}
                for domain_event, tracking in batch:
                    if isinstance(domain_event, Spec.Event):
                        last[domain_event.originator_id] = (domain_event, tracking.notification_id)
                for event, position in last.values():
                    cached(event, position)

        return CachedProjections

    def _cached(self, event: Spec.Event, position: int) -> None:
        """Set the entries of the spec ``event`` changed to what they are at ``position``:
        the spec as of this event, and its published row (this worker is the only writer
        of the read models, so they are exactly at ``position`` now)."""
        assert self._entries is not None
        values: Mapping[tuple[str, UUID], Any]
        try:
            with store_errors():
                values = self._entries(self.application, self.projections.read_model, event)
        except Exception as error:
            logger.warning("could not read spec %s for the cache: %s", event.originator_id, error)
            values = {(SPEC, event.originator_id): None, (PUBLISHED, event.originator_id): None}
        self.cache.update(position, values)

    def _check_binding(self) -> None:
        """Read models built from another event store are rebuilt from this one."""
        problem = binding_problem(self.projections, self.application)
        if problem is None:
            return
        logger.warning("%s: rebuilding them from the event store", problem)
        store = cast(SpecTimelineRecorder, self.application.recorder).store_id()
        self.projections.read_model.reset(store, self.application.name)

    def _failed(self, error: Exception) -> None:
        PROJECTION_RESTARTS.inc()
        self.state = "starting"
        if isinstance(error, IntegrityError):
            # Someone else projected these positions (a rebuild swapped in, or a second
            # worker): start again from the tracking record.
            logger.warning("position already projected (%s); resuming from the record", error)
            return
        self.error = str(error) or type(error).__name__
        logger.error("projection stopped: %s; restarting", self.error)
