"""The Redis query cache over one PostgreSQL store (docs/behaviour.md, Query cache).

Each test runs its own redis-server on a free port (stopped and started again where
the test needs it) and its own database, the worker in a thread, and API instances
started through the composition root as ``specsvc serve`` starts them.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from redis import Redis

from rest_api import create_app
from specsvc import SpecService, bootstrap
from specsvc.application import SpecApplication
from specsvc.cache import PUBLISHED, SPEC, Lookup
from specsvc.cache.redis import RedisCache
from specsvc.cli.project import _health_server
from specsvc.config import Settings
from specsvc.domainmodel import spec_id
from specsvc.errors import ConfigurationError, SpecDeleted, Unavailable
from specsvc.observability.metrics import CACHE_HITS, CACHE_MISSES
from specsvc.runners.worker import ProjectionWorker
from tests.support.redis_servers import RedisServer, redis_server, silent_server
from tests.support.stores import api_instance, make_spec, running_worker

pytestmark = pytest.mark.system

ACTOR = {"actor": "bob", "reason": "because"}


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as server:
        yield server


def instance(url: str, redis_url: str) -> AbstractContextManager[SpecService]:
    return api_instance(url, redis_url=redis_url)


@contextmanager
def worker(url: str, redis_url: str) -> Iterator[ProjectionWorker]:
    with running_worker(Settings(database_url=url, redis_url=redis_url)) as running:
        yield running  # type: ignore[misc]


def store_of(url: str) -> str:
    application = SpecApplication(env=bootstrap.env_for(Settings(database_url=url)))
    try:
        return application.timeline.store_id()
    finally:
        application.close()


def cached_at(cache: RedisCache, position: int) -> None:
    """Wait until the worker has written alpha's published entry at ``position``."""
    eventually(lambda: entry(cache, PUBLISHED, "alpha").position >= position)


def publish_and_cache(service: SpecService, url: str, redis_url: str) -> dict[str, Any]:
    """Create and publish alpha; return once the worker has cached it."""
    make_spec(service, "alpha")
    published = service.publish_spec("alpha", **ACTOR)
    cache = RedisCache(redis_url, store_of(url))
    cached_at(cache, published["position"])
    cache.close()
    return published


def entry(cache: RedisCache, kind: str, name: str) -> Lookup:
    found = cache.get(kind, spec_id(name))
    assert found is not None
    return found


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except AssertionError:
            pass  # the cache may not answer yet
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def counted(metric: Any, kind: str) -> float:
    return float(metric.labels(kind)._value.get())


def test_an_older_position_never_replaces_a_newer_one(redis: RedisServer) -> None:
    cache = RedisCache(redis.url, "store-a")
    key = spec_id("alpha")
    try:
        cache.update(7, {(SPEC, key): {"v": 7}})
        cache.update(5, {(SPEC, key): {"v": 5}})  # arrives late: refused
        assert entry(cache, SPEC, "alpha")[1:] == (7, {"v": 7})
        lookup = entry(cache, SPEC, "alpha")
        cache.put(SPEC, key, 6, {"v": 6}, lookup)  # a read-through of an older read
        assert entry(cache, SPEC, "alpha")[1:] == (7, {"v": 7})
        cache.put(SPEC, key, 7, {"v": "7 again"}, lookup)  # the same position may rewrite
        assert entry(cache, SPEC, "alpha")[1:] == (7, {"v": "7 again"})
        cache.update(9, {(SPEC, key): None})  # invalidated at 9
        assert not entry(cache, SPEC, "alpha").serves(0)
        cache.put(SPEC, key, 8, {"v": 8}, entry(cache, SPEC, "alpha"))
        assert entry(cache, SPEC, "alpha")[1:] == (9, None)
        # A read-through started before the entries were abandoned writes nothing.
        lookup = entry(cache, SPEC, "alpha")
        cache.renew()
        cache.put(SPEC, key, 10, {"v": 10}, lookup)
        assert entry(cache, SPEC, "alpha")[1:] == (0, None)
        cache.put(SPEC, key, 10, {"v": 10}, entry(cache, SPEC, "alpha"))
        assert entry(cache, SPEC, "alpha")[1:] == (10, {"v": 10})
        # Another event store's entries are apart.
        other = RedisCache(redis.url, "store-b")
        assert not entry(other, SPEC, "alpha").serves(0)
        other.close()
    finally:
        cache.close()


def test_the_worker_fills_the_cache_after_each_commit_for_every_instance(
    url: str, redis: RedisServer
) -> None:
    with worker(url, redis.url), instance(url, redis.url) as a, instance(url, redis.url) as b:
        published = publish_and_cache(a, url, redis.url)
        cache = RedisCache(redis.url, store_of(url))
        assert entry(cache, SPEC, "alpha").value["state"] == "published"
        hits = counted(CACHE_HITS, PUBLISHED)
        served = b.get_published("alpha", min_position=published["position"])
        assert served["version"] == 1 and served["content"] == "a: 1\n"
        assert counted(CACHE_HITS, PUBLISHED) == hits + 1
        spec_hits = counted(CACHE_HITS, SPEC)
        uncached = a.get_spec("alpha", as_of=datetime.now(UTC))  # from the event store
        assert b.get_spec("alpha", min_position=published["position"]) == uncached
        assert counted(CACHE_HITS, SPEC) == spec_hits + 1
        cache.close()


def test_a_read_needing_a_newer_position_is_never_answered_from_an_older_entry(
    url: str, redis: RedisServer
) -> None:
    with instance(url, redis.url) as a, instance(url, redis.url) as b:
        with worker(url, redis.url):
            make_spec(a, "alpha")
            first = a.publish_spec("alpha", **ACTOR)
            assert b.get_published("alpha", min_position=first["position"])["version"] == 1
        # No worker: the next write is not projected, the cache keeps version 1.
        a.update_spec("alpha", "a: 2\n", **ACTOR)
        second = a.publish_spec("alpha", **ACTOR)
        # B asks for nothing newer: the cached entry answers, as the read models would.
        assert b.get_published("alpha")["version"] == 1
        # Asked for the new position, the entry is too old: B waits for the read models.
        misses = counted(CACHE_MISSES, PUBLISHED)
        with pytest.raises(Unavailable):
            b.get_published("alpha", min_position=second["position"])
        assert counted(CACHE_MISSES, PUBLISHED) == misses + 1
        # A acknowledged the write: its own reads need it too.
        with pytest.raises(Unavailable):
            a.get_published("alpha")
        # The spec itself is in the event store: an old entry is passed over, not waited on.
        assert b.get_spec("alpha", min_position=second["position"])["published_version"] == 2
        assert a.get_spec("alpha")["published_version"] == 2
        with worker(url, redis.url):
            assert b.get_published("alpha", min_position=second["position"])["version"] == 2
            assert a.get_published("alpha")["version"] == 2


def test_publish_deprecate_and_delete_reach_the_other_instances(
    url: str, redis: RedisServer
) -> None:
    with worker(url, redis.url), instance(url, redis.url) as a, instance(url, redis.url) as b:
        make_spec(a, "alpha")
        published = a.publish_spec("alpha", **ACTOR)
        assert b.get_published("alpha", min_position=published["position"])["state"] == (
            "published"
        )
        changed = a.update_spec("alpha", "a: 2\n", **ACTOR)
        assert b.get_spec("alpha", min_position=changed["position"])["version"] == 2
        assert b.get_published("alpha", min_position=changed["position"])["version"] == 1
        republished = a.publish_spec("alpha", **ACTOR)
        assert b.get_published("alpha", min_position=republished["position"])["version"] == 2
        deprecated = a.deprecate_spec("alpha", **ACTOR)
        assert b.get_published("alpha", min_position=deprecated["position"])["state"] == (
            "deprecated"
        )
        assert b.get_spec("alpha", min_position=deprecated["position"])["state"] == "deprecated"
        deleted = a.delete_spec("alpha", **ACTOR)
        with pytest.raises(SpecDeleted):
            b.get_published("alpha", min_position=deleted["position"])
        assert b.get_spec("alpha", min_position=deleted["position"])["state"] == "deleted"
        # Once projected, B's reads without a position see it too, from the cache.
        eventually(lambda: b.projected_position() >= deleted["position"])
        hits = counted(CACHE_HITS, PUBLISHED)
        with pytest.raises(SpecDeleted):
            b.get_published("alpha")
        assert counted(CACHE_HITS, PUBLISHED) == hits + 1


def test_reads_go_on_while_redis_is_down_and_the_cache_recovers_by_itself(
    url: str, redis: RedisServer
) -> None:
    with (
        worker(url, redis.url) as running,
        instance(url, redis.url) as a,
        instance(url, redis.url) as b,
    ):
        make_spec(a, "alpha")
        first = a.publish_spec("alpha", **ACTOR)
        assert b.get_published("alpha", min_position=first["position"])["version"] == 1
        assert b.cache_status() == {"state": "ok", "error": None}
        redis.stop()
        # Writes and reads are answered from PostgreSQL, each within a bounded time.
        a.update_spec("alpha", "a: 2\n", **ACTOR)
        second = a.publish_spec("alpha", **ACTOR)
        started = time.monotonic()
        assert b.get_published("alpha", min_position=second["position"])["version"] == 2
        assert b.get_spec("alpha")["published_version"] == 2
        assert time.monotonic() - started < 2.0
        assert b.cache_status()["state"] == "degraded"
        assert b.cache_status()["error"]
        eventually(lambda: running.status()["cache"]["state"] == "degraded")
        redis.start()  # empty, as after a restart without persistence
        eventually(lambda: b.cache_status()["state"] == "ok")
        eventually(lambda: running.status()["cache"]["state"] == "ok")
        third = a.deprecate_spec("alpha", **ACTOR)
        cache = RedisCache(redis.url, store_of(url))
        cached_at(cache, third["position"])
        hits = counted(CACHE_HITS, PUBLISHED)
        served = b.get_published("alpha", min_position=third["position"])
        assert (served["version"], served["state"]) == (2, "deprecated")
        assert counted(CACHE_HITS, PUBLISHED) == hits + 1
        cache.close()


def test_a_worker_that_missed_updates_abandons_the_entries_once_redis_answers(
    url: str, redis: RedisServer
) -> None:
    with worker(url, redis.url) as running, instance(url, redis.url) as a:
        publish_and_cache(a, url, redis.url)
        cache = RedisCache(redis.url, store_of(url))
        # Redis is paused (its data kept) while the worker projects the next write.
        with Redis.from_url(redis.url) as pause:
            pause.execute_command("CLIENT", "PAUSE", "1500", "WRITE")
        second = a.update_spec("alpha", "a: 2\n", **ACTOR)
        eventually(lambda: running.status()["position"] >= second["position"])
        time.sleep(1.6)
        # Once Redis answers, the old entry (version 1, missing the update) is never used.
        eventually(lambda: not entry(cache, SPEC, "alpha").serves(0))
        with instance(url, redis.url) as b:
            assert b.get_spec("alpha")["version"] == 2
        cache.close()


def test_a_silent_redis_slows_no_read_and_readyz_reports_it(url: str) -> None:
    with (
        silent_server() as silent,
        worker(url, silent) as running,
        instance(url, silent) as a,
        instance(url, silent) as b,
    ):
        make_spec(a, "alpha")
        published = a.publish_spec("alpha", **ACTOR)
        started = time.monotonic()
        for _ in range(20):
            assert b.get_published("alpha", min_position=published["position"])["version"] == 1
            assert b.get_spec("alpha")["state"] == "published"
        assert time.monotonic() - started < 3.0
        client = create_app(b).test_client()
        response = client.get("/readyz")
        assert response.status_code == 200  # the store answers every read meanwhile
        body = response.get_json()
        assert body["status"] == "ready"
        assert body["cache"]["state"] == "degraded" and body["cache"]["error"]
        metrics = client.get("/metrics").get_data(as_text=True)
        assert 'specsvc_cache_state{state="degraded"} 1.0' in metrics
        assert running.status()["cache"]["state"] == "degraded"
        health = _health_server(running, ("127.0.0.1", 0))
        try:
            port = health.server_address[1]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
                worker_body = json.load(answer)
        finally:
            health.shutdown()
            health.server_close()
        assert worker_body["status"] == "ready"
        assert worker_body["worker"]["cache"]["state"] == "degraded"


def test_the_cache_needs_the_postgresql_store(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="--database-url"):
        bootstrap.start(Settings(db=str(tmp_path / "specs.db"), redis_url="redis://x:1/0"))


def test_a_worker_catching_up_in_batches_leaves_each_spec_cached_as_it_ends(
    url: str, redis: RedisServer
) -> None:
    # Written with no worker running, so the worker finds them waiting and projects
    # them in batches (docs/architecture.md, section 7.1).
    with instance(url, redis.url) as writer:
        for name in ("alpha", "beta", "gamma"):
            make_spec(writer, name)
            for n in range(2, 8):
                writer.update_spec(name, f"a: {n}\n", **ACTOR)
        writer.publish_spec("beta", **ACTOR)
        last = writer.delete_spec("gamma", **ACTOR)["position"]
    with worker(url, redis.url):
        cache = RedisCache(redis.url, store_of(url))
        try:
            eventually(lambda: entry(cache, SPEC, "beta").position >= last - 1)
            alpha, beta = entry(cache, SPEC, "alpha"), entry(cache, SPEC, "beta")
            assert (alpha.value["version"], alpha.value["state"]) == (7, "draft")
            assert (beta.value["version"], beta.value["state"]) == (7, "published")
            assert entry(cache, PUBLISHED, "beta").value["version"] == 7
            eventually(lambda: entry(cache, SPEC, "gamma").position == last)
            assert entry(cache, SPEC, "gamma").value["state"] == "deleted"
        finally:
            cache.close()
