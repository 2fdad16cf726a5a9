"""The query cache's parts that need no Redis: values, entries, and the breaker that
keeps a dead or silent Redis from slowing reads (docs/behaviour.md, Query cache)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from specsvc.cache import PUBLISHED, SPEC, Lookup, NoCache, decode, encode
from tests.support.redis_servers import free_port, silent_server

pytest.importorskip("redis")

from specsvc.cache.redis import RedisCache


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
