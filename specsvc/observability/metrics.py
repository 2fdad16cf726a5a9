"""Prometheus metrics shared by the adapters: requests, commands, projection lag."""

from __future__ import annotations

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
