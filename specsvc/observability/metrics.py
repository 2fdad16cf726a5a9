"""Prometheus metrics: requests, commands, projection lag, and the projection worker.

Every label value a client could choose is folded into a known set (anything else is
``other``), so no request can add series: one series per value would let anyone grow
the process and the scrape without bound.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "specsvc_requests_total",
    "Requests answered, by API, route or RPC, and status.",
    ["api", "route", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "specsvc_request_duration_seconds",
    "Time to answer a request, by API, route or RPC, and status.",
    ["api", "route", "method", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
COMMANDS = Counter(
    "specsvc_commands_total",
    "Commands by type and outcome (ok, or the error code).",
    ["command", "outcome"],
    registry=REGISTRY,
)
PROJECTION_LAG = Gauge(
    "specsvc_projection_lag_events",
    "Log positions the read models are behind the event store, at the last scrape.",
    registry=REGISTRY,
)
PROJECTION_HEALTHY = Gauge(
    "specsvc_projection_healthy",
    "1 when the projections are caught up and their last run succeeded, else 0.",
    registry=REGISTRY,
)
# The projection worker (specsvc project).
WORKER_ACTIVE = Gauge(
    "specsvc_worker_active",
    "1 while this worker holds the projector's lock and projects, 0 while it stands by.",
    registry=REGISTRY,
)
PROJECTED_EVENTS = Counter(
    "specsvc_projected_events_total",
    "Events this worker has projected into the read models.",
    registry=REGISTRY,
)
PROJECTION_DELAY = Histogram(
    "specsvc_projection_delay_seconds",
    "From an event's timestamp (its command) to the commit of its read-model rows.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
PROJECTION_RESTARTS = Counter(
    "specsvc_projection_restarts_total",
    "Times this worker's projection runner stopped on an error and was started again.",
    registry=REGISTRY,
)
# The query cache (docs/architecture.md, Query cache).
CACHE_HITS = Counter(
    "specsvc_cache_hits_total",
    "Reads answered from the query cache, by kind (spec, published).",
    ["kind"],
    registry=REGISTRY,
)
CACHE_MISSES = Counter(
    "specsvc_cache_misses_total",
    "Reads the query cache could not answer (no entry, or one older than the read needs),"
    " by kind; they are answered from the store.",
    ["kind"],
    registry=REGISTRY,
)
CACHE_ERRORS = Counter(
    "specsvc_cache_errors_total",
    "Query cache operations that failed or timed out, by operation.",
    ["operation"],
    registry=REGISTRY,
)
CACHE_STATE = Gauge(
    "specsvc_cache_state",
    "1 for the query cache's current state (off, ok, degraded), 0 for the others.",
    ["state"],
    registry=REGISTRY,
)
CACHE_STATES = ("off", "ok", "degraded")


def set_cache_state(state: str) -> None:
    for known in CACHE_STATES:
        CACHE_STATE.labels(known).set(1 if known == state else 0)


set_cache_state("off")

OTHER = "other"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
HTTP_STATUSES = frozenset(
    {200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 410, 412, 413, 415, 422, 429, 431, 500, 503}
)


def bounded(value: str, known: Collection[str]) -> str:
    """``value`` if it is one of ``known``, else ``other``."""
    return value if value in known else OTHER


# The count and the timer of each label set met so far: ``labels()`` takes a lock and
# checks its values on every call; the set of label values is bounded, and so is this.
_REQUEST_SERIES: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}


def observe_request(api: str, route: str, method: str, status: str, seconds: float) -> None:
    """Count and time one request; every label is already one of a known few values."""
    labels = (api, route, method, status)
    series = _REQUEST_SERIES.get(labels)
    if series is None:
        series = _REQUEST_SERIES[labels] = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
    series[0].inc()
    series[1].observe(seconds)


def http_labels(route: str, method: str, status: int) -> tuple[str, str, str]:
    """The route template (already bounded), method and status as bounded label values."""
    return route, bounded(method, HTTP_METHODS), str(status) if status in HTTP_STATUSES else OTHER
