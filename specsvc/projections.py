"""The read models, kept by a ``ProcessApplication`` that follows ``SpecApplication``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

# Imported at run time: singledispatch resolves the policy's type hints.
from eventsourcing.application import ProcessingEvent
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Tracking
from eventsourcing.system import ProcessApplication

from specsvc.content import sha256_hex
from specsvc.domainmodel import Spec
from specsvc.persistence.interfaces import EventRow, SpecReadModelRecorder, SpecTimelineRecorder

if TYPE_CHECKING:
    from eventsourcing.system import Leader

REPLAY_STEP = 500  # events projected in one transaction by a replay
Batch = Sequence[tuple[DomainEventProtocol[UUID], Tracking]]


def _noop(*_: int) -> None:
    pass


class SpecProjections(ProcessApplication[UUID]):
    """Spec summaries, versions with published content, and the audit index.

    The policy only hands a flattened row to the recorder, which writes it in the
    same transaction as the tracking record, so a crash never half-applies an event.
    """

    name = "SpecProjections"
    pull_section_size = REPLAY_STEP

    @property
    def read_model(self) -> SpecReadModelRecorder:
        return cast(SpecReadModelRecorder, self.recorder)

    def process_batch(self, batch: Batch, *, after: int | None = None) -> None:
        """Project consecutive events of one leader in one transaction: the policy for
        each, then their rows and one tracking record together, or nothing at all (with
        ``after``, only if the tracking record stands there: IntegrityError otherwise)."""
        if not batch:
            return
        rows = self.rows(batch)
        with self.processing_lock:  # as the library's process_event holds it
            self.read_model.project_batch(batch[0][1].application_name, rows, after=after)

    def rows(self, batch: Batch) -> list[tuple[int, EventRow | None]]:
        """Each event's position and the row the policy makes of it (None: no row)."""
        rows: list[tuple[int, EventRow | None]] = []
        policy = self.policy  # singledispatchmethod builds a new dispatcher on every lookup
        for domain_event, tracking in batch:
            processing_event = ProcessingEvent[UUID](tracking=tracking)
            policy(domain_event, processing_event)
            rows.append((tracking.notification_id, processing_event.saved_kwargs.get("spec_event")))
        return rows

    def catch_up(
        self, leader_name: str, stop: int | None = None, projected: Callable[[int], None] = _noop
    ) -> None:
        """Project what ``leader_name``'s log holds past the tracking record (up to
        ``stop``), one transaction per section of ``pull_section_size`` events, calling
        ``projected(last position)`` after each."""
        # Not the library's pull_and_process: it commits once per event.
        start = self.recorder.max_tracking_id(leader_name)
        for notifications in self.pull_notifications(
            leader_name, start=start, stop=stop, inclusive_of_start=False
        ):
            received = self.filter_received_notifications(notifications)
            self.process_batch(self.convert_notifications(leader_name, received))
            projected(notifications[-1].id)

    @singledispatchmethod
    def policy(
        self,
        domain_event: DomainEventProtocol[UUID],
        processing_event: ProcessingEvent[UUID],
    ) -> None:
        """Events of other aggregates are tracked and otherwise ignored."""

    @policy.register
    def _(self, event: Spec.SpecCreated, processing_event: ProcessingEvent[UUID]) -> None:
        processing_event.saved_kwargs["spec_event"] = _row(
            event, name=event.name, type=event.type, **_content(event.content, 1)
        )

    @policy.register
    def _(self, event: Spec.SpecUpdated, processing_event: ProcessingEvent[UUID]) -> None:
        processing_event.saved_kwargs["spec_event"] = _row(
            event, **_content(event.content, event.version)
        )

    @policy.register
    def _(self, event: Spec.SpecStateChanged, processing_event: ProcessingEvent[UUID]) -> None:
        processing_event.saved_kwargs["spec_event"] = _row(
            event,
            from_state=event.from_state,
            to_state=event.to_state,
            published_version=event.published_version,
        )


def _content(content: str, version: int) -> dict[str, Any]:
    return {"content": content, "content_sha256": sha256_hex(content), "version": version}


def _row(event: Spec.Event, **fields: Any) -> EventRow:
    return EventRow(
        event=type(event).__name__,
        spec_id=event.originator_id,
        sequence=event.originator_version,
        timestamp=event.timestamp,
        actor=event.actor,
        correlation_id=event.correlation_id,
        reason=event.reason,
        **fields,
    )


def replay(
    projections: SpecProjections,
    leader: Leader[UUID],
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Project the whole of ``leader``'s log into ``projections`` (fresh, or behind), one
    transaction per REPLAY_STEP events.

    ``progress(done, total)`` is called after every step.
    """
    if leader.name not in projections.readers:
        projections.follow(leader.name, leader.notification_log)
    head = leader.recorder.max_notification_id() or 0
    report = progress or _noop
    if head:
        projections.catch_up(leader.name, stop=head, projected=lambda done: report(done, head))
    projections.catch_up(leader.name)  # anything committed meanwhile


def binding_problem(projections: SpecProjections, leader: Leader[UUID]) -> str | None:
    """Why ``projections`` cannot be the read models of ``leader``'s event store, or None.

    Read models are bound to the event store they were built from when they are
    created; ones from before that binding existed are bound the first time they are
    found consistent. They never belong to a store they have tracked past.
    """
    timeline = cast(SpecTimelineRecorder, leader.recorder)
    store = timeline.store_id()
    bound = projections.read_model.bound_store()
    tracked = projections.recorder.max_tracking_id(leader.name) or 0
    head = leader.recorder.max_notification_id() or 0
    if bound is not None and bound != store:
        return f"the read models were built from another event store ({bound}, not {store})"
    if tracked > head:
        return (
            f"the read models have projected position {tracked}, past the event store's"
            f" last position {head}"
        )
    if bound is None:
        projections.read_model.bind(store)
    return None
