"""The query cache's parts that need no Redis: values, entries, and the breaker that
keeps a dead or silent Redis from slowing reads (docs/behaviour.md, Query cache)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from specsvc import SpecService, bootstrap
from specsvc.cache import (
    PUBLISHED,
    SPEC,
    CacheStatus,
    Lookup,
    NoCache,
    QueryCache,
    decode,
    encode,
)
from specsvc.cache.redis import RedisCache
from specsvc.config import Settings
from specsvc.domainmodel import spec_id
from specsvc.errors import SpecNotFound
from tests.support.redis_servers import free_port, silent_server


def test_values_keep_instants_and_text() -> None:
    value = {
        "name": "alpha",
        "content": "a: 1\n# ünïcode\n",
        "published_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "published_version": None,
        "nested": [{"at": datetime(2025, 5, 6, tzinfo=UTC)}],
    }
    assert decode(encode(value)) == value


def test_an_entry_serves_only_reads_it_is_new_enough_for() -> None:
    entry = Lookup("3", 10, {"name": "alpha"})
    assert entry.serves(0) and entry.serves(10)
    assert not entry.serves(11)
    assert not Lookup("3", 10, None).serves(0)  # invalidated: no value


def test_no_cache_answers_nothing_and_is_off() -> None:
    cache = NoCache()
    assert cache.get(SPEC, uuid4()) is None
    cache.put(SPEC, uuid4(), 5, {"a": 1}, Lookup("0", 0, None))
    cache.update(5, {(PUBLISHED, uuid4()): None})
    assert cache.status() == {"state": "off", "error": None}
    assert not cache.enabled


def test_a_redis_that_refuses_connections_is_skipped_until_the_cooldown_ends() -> None:
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", "store", cooldown=0.5)
    try:
        assert cache.get(SPEC, uuid4()) is None
        status = cache.status()
        assert status["state"] == "degraded" and status["error"]
        started = time.monotonic()
        for _ in range(100):
            assert cache.get(SPEC, uuid4()) is None  # skipped: no connection attempt
        assert time.monotonic() - started < 0.05
    finally:
        cache.close()


def test_a_silent_redis_costs_one_bounded_timeout_then_is_skipped() -> None:
    with silent_server() as url:
        cache = RedisCache(url, "store", timeout=0.1, cooldown=5.0)
        try:
            started = time.monotonic()
            assert cache.get(PUBLISHED, uuid4()) is None
            assert time.monotonic() - started < 1.0
            started = time.monotonic()
            for _ in range(50):
                assert cache.get(PUBLISHED, uuid4()) is None
                cache.put(PUBLISHED, uuid4(), 3, {"a": 1}, Lookup("0", 0, None))
                cache.update(4, {(SPEC, uuid4()): {"a": 1}})
            assert time.monotonic() - started < 0.1
            assert cache.status()["state"] == "degraded"
        finally:
            cache.close()


def test_a_bad_redis_url_is_a_configuration_error() -> None:
    from specsvc.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        RedisCache("http://nowhere", "store")


class MemoryCache(QueryCache):
    """A cache in a dict, with the same compare-and-set rule as Redis's."""

    enabled = True

    def __init__(self) -> None:
        self.entries: dict[tuple[str, UUID], tuple[int, Any]] = {}

    def get(self, kind: str, spec_id: UUID) -> Lookup | None:
        position, value = self.entries.get((kind, spec_id), (0, None))
        return Lookup("0", position, value)

    def put(
        self, kind: str, spec_id: UUID, position: int, value: Any, lookup: Lookup | None
    ) -> None:
        self.update(position, {(kind, spec_id): value})

    def update(self, position: int, values: Mapping[tuple[str, UUID], Any]) -> None:
        for key, value in values.items():
            if self.entries.get(key, (0, None))[0] <= position:
                self.entries[key] = (position, decode(encode(value)))

    def renew(self) -> None:
        self.entries.clear()

    def status(self) -> CacheStatus:
        return {"state": "ok", "error": None}


@pytest.fixture
def cached() -> Iterator[tuple[SpecService, MemoryCache, int]]:
    """A service reading through a cache in memory, and the position where it published
    the spec ``alpha``."""
    # Projecting each write before it returns, as a PostgreSQL store's worker may not:
    # a read that names no position needs none here.
    service = bootstrap.start(Settings(), bootstrap.Role.TOOL).service
    cache = MemoryCache()
    service._cache = cache  # as bootstrap does for a PostgreSQL store with --redis-url
    try:
        service.create_spec("alpha", "generic", "a: 1\n", actor="alice")
        published = service.publish_spec("alpha", actor="alice", reason="ok")
        yield service, cache, published["position"]
    finally:
        service.close()


def test_a_miss_reads_the_store_and_stores_it_at_the_position_read_before(
    cached: tuple[SpecService, MemoryCache, int],
) -> None:
    service, cache, position = cached
    served = service.get_published("alpha")
    assert cache.entries[(PUBLISHED, spec_id("alpha"))][0] == position
    assert cache.entries[(PUBLISHED, spec_id("alpha"))][1]["published_version"] == 1
    assert service.get_spec("alpha") == cache.entries[(SPEC, spec_id("alpha"))][1]
    assert service.get_published("alpha") == served  # now a hit, the same answer


def test_an_entry_older_than_the_position_a_read_needs_is_passed_over(
    cached: tuple[SpecService, MemoryCache, int],
) -> None:
    service, cache, position = cached
    key = spec_id("alpha")
    stale = {**service.get_spec("alpha"), "content": "stale: true\n"}
    service.get_published("alpha")
    stale_row = {**cache.entries[(PUBLISHED, key)][1], "content": "stale: true\n"}
    cache.entries[(SPEC, key)] = (position - 1, stale)
    cache.entries[(PUBLISHED, key)] = (position - 1, stale_row)
    # Needing nothing, the old entries answer (as lagging read models would) ...
    assert service.get_spec("alpha")["content"] == "stale: true\n"
    assert service.get_published("alpha")["content"] == "stale: true\n"
    # ... needing the publish, they are passed over, and replaced by what the store says.
    assert service.get_spec("alpha", min_position=position)["content"] == "a: 1\n"
    assert service.get_published("alpha", min_position=position)["content"] == "a: 1\n"
    assert cache.entries[(SPEC, key)][0] == position
    assert service.get_published("alpha")["content"] == "a: 1\n"


def test_errors_of_the_store_are_never_cached(
    cached: tuple[SpecService, MemoryCache, int],
) -> None:
    service, cache, _ = cached
    with pytest.raises(SpecNotFound):
        service.get_published("missing")
    with pytest.raises(SpecNotFound):
        service.get_spec("missing")
    assert cache.entries == {}


def test_a_value_json_cannot_hold_is_counted_not_raised() -> None:
    from specsvc.observability.metrics import CACHE_ERRORS

    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", "store")
    before = CACHE_ERRORS.labels("encode")._value.get()
    try:
        cache.put(SPEC, uuid4(), 1, {"odd": object()}, Lookup("0", 0, None))
        assert CACHE_ERRORS.labels("encode")._value.get() == before + 1
    finally:
        cache.close()
