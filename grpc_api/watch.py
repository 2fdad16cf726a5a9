"""Live event streaming: one broadcaster reads new audit rows, every watcher gets a queue.

The broadcaster wakes when the projections have run (or once a second), reads what was
projected since its last position, and hands each row to the watchers' queues. Watchers
block on their queue; none of them polls the store. A watcher first replays from the
position it asked for up to where the broadcaster stood when it joined, then takes live
rows after that position, so every committed event arrives exactly once and in order.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any

import grpc

from specsvc import SpecService
from specsvc.errors import Unavailable

logger = logging.getLogger(__name__)

PAGE = 500
IDLE_WAKE_SECONDS = 1.0
QUEUE_LIMIT = 10_000
_CLOSED = object()


class Subscription:
    def __init__(self, start: int, names: set[str], types: set[str], principal: str = ""):
        self.start = start
        self.names = names
        self.types = types
        self.principal = principal
        self.rows: queue.Queue[Any] = queue.Queue(QUEUE_LIMIT)
        self.overflowed = False
        self.closed = False

    def offer(self, row: dict[str, Any]) -> None:
        # After an overflow nothing more is queued, so what the reader drains has no gap.
        if self.overflowed:
            return
        try:
            self.rows.put_nowait(row)
        except queue.Full:
            self.overflowed = True

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(queue.Full):
            self.rows.put_nowait(_CLOSED)


class Broadcaster:
    def __init__(
        self, service: SpecService, max_watchers: int = 256, per_principal: int | None = None
    ):
        self._service = service
        self._max_watchers = max_watchers
        self._per_principal = per_principal or max_watchers
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._subscriptions: list[Subscription] = []
        self._types: dict[str, str] = {}
        self.position = service.projected_position()
        service.on_projected(self._wake.set)
        self._thread = threading.Thread(target=self._run, name="event-broadcaster", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=5)
        with self._lock:
            for subscription in self._subscriptions:
                subscription.close()

    def watch(
        self,
        after: int | None,
        names: set[str],
        types: set[str],
        context: grpc.ServicerContext,
        principal: str = "",
    ) -> Iterator[dict[str, Any]]:
        """Events after ``after`` (None: from now), then live, until the call ends."""
        subscription = self._subscribe(names, types, principal)
        context.add_callback(subscription.close)
        try:
            last = subscription.start if after is None else after
            for row in self._replay(last, subscription):
                last = row["position"]
                yield row
            for row in self._live(subscription, context):
                if row["position"] > last and self._matches(row, subscription):
                    last = row["position"]
                    yield row
            if subscription.overflowed:
                raise Unavailable(f"watcher fell behind; reconnect with after={last}")
            if self._stopping.is_set():
                raise Unavailable(f"server is stopping; reconnect with after={last}")
        finally:
            self._unsubscribe(subscription)

    @staticmethod
    def _live(
        subscription: Subscription, context: grpc.ServicerContext
    ) -> Iterator[dict[str, Any]]:
        while context.is_active():
            try:
                row = subscription.rows.get(timeout=IDLE_WAKE_SECONDS)
            except queue.Empty:
                if subscription.overflowed or subscription.closed:
                    return
                continue
            if row is _CLOSED:
                return
            yield row

    def _subscribe(self, names: set[str], types: set[str], principal: str) -> Subscription:
        with self._lock:
            if len(self._subscriptions) >= self._max_watchers:
                raise Unavailable(
                    f"too many watchers (limit {self._max_watchers})", details={"retry_after": 5}
                )
            mine = sum(1 for s in self._subscriptions if s.principal == principal)
            if mine >= self._per_principal:
                raise Unavailable(
                    f"{principal!r} already has {mine} watchers (limit {self._per_principal})",
                    details={"retry_after": 5},
                )
            subscription = Subscription(self.position, names, types, principal)
            self._subscriptions.append(subscription)
            return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def _replay(self, after: int, subscription: Subscription) -> Iterator[dict[str, Any]]:
        while after < subscription.start:
            page = self._service.list_events(after=after, limit=PAGE, min_position=0)["events"]
            for row in page:
                if row["position"] > subscription.start:
                    return
                after = row["position"]
                if self._matches(row, subscription):
                    yield row
            if len(page) < PAGE:
                return

    def _matches(self, row: dict[str, Any], subscription: Subscription) -> bool:
        if subscription.names and row["spec"] not in subscription.names:
            return False
        return not subscription.types or self._type_of(row["spec"]) in subscription.types

    def _type_of(self, name: str) -> str:
        # A spec's type is fixed at creation, so the cache never goes stale.
        if name not in self._types:
            self._types[name] = self._service.get_spec(name)["type"]
        return self._types[name]

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(IDLE_WAKE_SECONDS)
            self._wake.clear()
            try:
                self._deliver()
            except Exception:
                logger.exception("event broadcast failed; retrying")

    def _deliver(self) -> None:
        while True:
            with self._lock:
                if not self._subscriptions:  # nobody to hand rows to: pass them unread
                    self.position = max(self.position, self._service.projected_position())
                    return
            # What is projected so far: never wait for a position first (min_position 0).
            rows = self._service.list_events(after=self.position, limit=PAGE, min_position=0)
            rows = rows["events"]
            if not rows:
                return
            with self._lock:
                for row in rows:
                    for subscription in self._subscriptions:
                        subscription.offer(row)
                self.position = rows[-1]["position"]
