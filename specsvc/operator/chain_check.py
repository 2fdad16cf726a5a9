"""The hash chain walked event by event: what was edited, deleted, inserted, reordered or
truncated, by position (docs/behaviour.md, Tamper evidence).

Used by ``specsvc verify`` over the whole log and by ``serve`` and ``project`` over the
end of it before they start.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from specsvc.persistence.chain import GENESIS, Chain, ChainedLog, Link

PAGE = 500
MAX_PAIRED = 200  # mismatches tried against each other for swapped events


@dataclass(frozen=True)
class Problem:
    """One finding: where, what kind, and what was seen."""

    position: int | None
    kind: str
    detail: str

    def line(self) -> str:
        if self.position is None:
            return f"{self.kind}: {self.detail}"
        return f"position {self.position}: {self.kind}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "kind": self.kind, "detail": self.detail}


@dataclass
class _Mismatch:
    position: int
    link: Link
    previous_hash: bytes
    event: Any


def walk_chain(
    recorder: Any, chain: Chain, after: int = 0, progress: Any = None
) -> tuple[list[Problem], int]:
    """The problems of the chain over the events after position ``after``, and how many
    events were checked. Links before ``after`` are trusted as stored."""
    log: ChainedLog = recorder
    head = recorder.max_notification_id() or 0
    problems: list[Problem] = []
    mismatches: list[_Mismatch] = []
    previous: int | None = None if after else 0
    previous_hash: bytes | None = None if after else GENESIS
    checked = 0
    for position, event, link in _merged(recorder, log, after):
        if link is None:
            problems.append(Problem(position, "inserted", "an event without a chain link"))
            continue
        if event is None:
            kind = "truncated" if position > head else "deleted"
            problems.append(Problem(position, kind, "the chain has a link for a missing event"))
            previous, previous_hash = position, link.hash
            continue
        checked += 1
        if progress is not None and checked % PAGE == 0:
            progress("chain", position, head)
        if previous is None:  # the first event after a trusted start
            previous, previous_hash = link.previous, _hash_at(log, link.previous)
            if previous_hash is None:
                problems.append(Problem(link.previous, "deleted", "the event before it is gone"))
        elif link.previous != previous:
            if link.previous > previous:
                problems.append(
                    Problem(link.previous, "deleted", f"position {position} chains to it")
                )
            else:
                problems.append(
                    Problem(
                        position,
                        "reordered",
                        f"chains to position {link.previous}, not to {previous} before it",
                    )
                )
            previous_hash = _hash_at(log, link.previous)
        if previous_hash is not None and not chain.matches(link, previous_hash, event):
            mismatches.append(_Mismatch(position, link, previous_hash, event))
        previous, previous_hash = position, link.hash
    problems += _classified(chain, mismatches)
    problems.sort(key=lambda p: (p.position or 0, p.kind))
    return problems, checked


def check_checkpoint(recorder: Any, position: int, digest: bytes) -> list[Problem]:
    """Whether the log still extends a head recorded earlier: the same hash at the same
    position. Detects truncation and a chain computed again, with or without the key."""
    log: ChainedLog = recorder
    link = log.link_at(position)
    head = recorder.max_notification_id() or 0
    if link is None:
        if head < position:
            return [
                Problem(
                    position,
                    "truncated",
                    f"the log ends at position {head}; the checkpoint was taken at {position}",
                )
            ]
        return [Problem(position, "deleted", "the checkpoint's event has no chain link")]
    if link.hash != digest:
        return [
            Problem(
                position,
                "rechained",
                "the chain hash differs from the checkpoint's: the history up to it was"
                " rewritten",
            )
        ]
    return []


def _hash_at(log: ChainedLog, position: int) -> bytes | None:
    if position == 0:
        return GENESIS
    link = log.link_at(position)
    return None if link is None else link.hash


def _classified(chain: Chain, mismatches: list[_Mismatch]) -> list[Problem]:
    """Mismatches are edits, unless two of them hold each other's events (swapped)."""
    swapped: set[int] = set()
    paired = mismatches[:MAX_PAIRED]
    for a in paired:
        for b in paired:
            if a is not b and b.position not in swapped and chain.matches(
                b.link, b.previous_hash, a.event
            ):
                swapped.update((a.position, b.position))
    return [
        Problem(m.position, "reordered", "holds the event chained at another position")
        if m.position in swapped
        else Problem(m.position, "edited", "the stored event does not match its chain hash")
        for m in mismatches
    ]


def _merged(
    recorder: Any, log: ChainedLog, after: int
) -> Iterator[tuple[int, Any | None, Link | None]]:
    """``(position, event or None, link or None)`` in position order: the events and the
    chain's links, paged side by side."""
    events = _events(recorder, after)
    links = _links(log, after)
    event, link = next(events, None), next(links, None)
    while event is not None or link is not None:
        event_at = event.id if event is not None else None
        link_at = link.position if link is not None else None
        if link_at is None or (event_at is not None and event_at < link_at):
            assert event_at is not None
            yield event_at, event, None
            event = next(events, None)
        elif event_at is None or link_at < event_at:
            yield link_at, None, link
            link = next(links, None)
        else:
            yield event_at, event, link
            event, link = next(events, None), next(links, None)


def _events(recorder: Any, after: int) -> Iterator[Any]:
    while page := recorder.select_notifications(after, PAGE, inclusive_of_start=False):
        yield from page
        after = page[-1].id


def _links(log: ChainedLog, after: int) -> Iterator[Link]:
    while page := log.select_links(after, PAGE):
        yield from page
        after = page[-1].position
