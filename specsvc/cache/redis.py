"""The query cache on Redis (docs/architecture.md, Query cache).

Keys: ``specsvc:cache:STORE:generation`` holds the current generation; an entry is the
hash ``specsvc:cache:STORE:GENERATION:KIND:SPEC_ID`` with fields ``p`` (its position)
and ``v`` (its value as JSON; empty when invalidated). Both scripts read the generation
and the entries in one round trip; the write is a compare-and-set on the position, so
an entry only moves forward whoever writes it and in whatever order the writes arrive.

Every call has a bounded timeout. After a failure the cache is skipped for
``COOLDOWN`` seconds (answers come from the store), then tried again by the next call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from specsvc.cache import CacheStatus, Lookup, QueryCache, decode, encode
from specsvc.errors import ConfigurationError
from specsvc.observability.metrics import CACHE_ERRORS, set_cache_state

logger = logging.getLogger(__name__)

TIMEOUT = 0.1  # seconds: connecting, and waiting for any answer
COOLDOWN = 2.0  # seconds the cache is skipped after a failure
TTL = 600  # seconds an entry lives without being written again

READ = """
local generation = redis.call('GET', KEYS[1]) or '0'
local entry = redis.call('HMGET', ARGV[1] .. generation .. ':' .. ARGV[2], 'p', 'v')
return {generation, entry[1], entry[2]}
"""

# ARGV: key prefix, expected generation ('' for the current one), position, ttl, then
# pairs of (KIND:SPEC_ID, value). Returns the number of entries written, -1 when the
# generation has moved on.
WRITE = """
local generation = redis.call('GET', KEYS[1]) or '0'
if ARGV[2] ~= '' and ARGV[2] ~= generation then
  return -1
end
local position = tonumber(ARGV[3])
local written = 0
for i = 5, #ARGV, 2 do
  local key = ARGV[1] .. generation .. ':' .. ARGV[i]
  local stored = redis.call('HGET', key, 'p')
  if (not stored) or tonumber(stored) <= position then
    redis.call('HSET', key, 'p', ARGV[3], 'v', ARGV[i + 1])
    redis.call('EXPIRE', key, ARGV[4])
    written = written + 1
  end
end
return written
"""


class RedisCache(QueryCache):
    """Entries of the event store ``store_id`` in the Redis database ``url`` names."""

    enabled = True

    def __init__(
        self,
        url: str,
        store_id: str,
        *,
        timeout: float = TIMEOUT,
        cooldown: float = COOLDOWN,
        ttl: int = TTL,
    ):
        try:
            self._redis = redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
                retry_on_timeout=False,
                health_check_interval=0,
            )
        except ValueError as error:
            raise ConfigurationError(f"--redis-url: {error}") from None
        self._prefix = f"specsvc:cache:{store_id}:"
        self._generation_key = self._prefix + "generation"
        self._read = self._redis.register_script(READ)
        self._write = self._redis.register_script(WRITE)
        self._cooldown = cooldown
        self._ttl = ttl
        self._lock = threading.Lock()
        self._skip_until = 0.0
        self._error: str | None = None
        # Set when an update may have been lost: no entry is written until the old
        # generation is abandoned.
        self._must_renew = False
        set_cache_state("ok")

    # --- reads and read-through -----------------------------------------------------------

    def get(self, kind: str, spec_id: UUID) -> Lookup | None:
        if not self._usable():
            return None
        try:
            generation, position, value = self._read(
                keys=[self._generation_key], args=[self._prefix, f"{kind}:{spec_id}"]
            )
            found = Lookup(
                generation.decode(),
                int(position) if position is not None else 0,
                decode(value) if value else None,
            )
        except (redis.RedisError, ValueError) as error:
            self._failed("get", error)
            return None
        self._succeeded()
        return found

    def put(
        self, kind: str, spec_id: UUID, position: int, value: Any, lookup: Lookup | None
    ) -> None:
        if lookup is None or not self._usable():
            return
        self._call_write("put", lookup.generation, position, {(kind, spec_id): value})

    # --- the worker ---------------------------------------------------------------------

    def update(self, position: int, values: Mapping[tuple[str, UUID], Any]) -> None:
        if not self._usable() or (self._must_renew and not self._renewed()):
            self._must_renew = True
            return
        if not self._call_write("update", "", position, values):
            # An entry may now be older than the read models: abandon them all.
            self._must_renew = True
            self._renewed()

    def renew(self) -> None:
        self._must_renew = True
        self._renewed()

    def maintain(self) -> None:
        if not self._usable():
            return
        if self._must_renew:
            self._renewed()
        else:
            self.status()

    def _renewed(self) -> bool:
        try:
            self._redis.incr(self._generation_key)
        except redis.RedisError as error:
            self._failed("renew", error)
            return False
        self._must_renew = False
        self._succeeded()
        return True

    # --- health -------------------------------------------------------------------------

    def status(self) -> CacheStatus:
        if self._usable():
            try:
                self._redis.ping()
            except redis.RedisError as error:
                self._failed("ping", error)
            else:
                self._succeeded()
        if self._error is None:
            return {"state": "ok", "error": None}
        return {"state": "degraded", "error": self._error}

    def close(self) -> None:
        self._redis.close()
        set_cache_state("off")

    # --- the breaker --------------------------------------------------------------------

    def _call_write(
        self, operation: str, generation: str, position: int, values: Mapping[tuple[str, UUID], Any]
    ) -> bool:
        args: list[Any] = [self._prefix, generation, position, self._ttl]
        try:
            for (kind, spec_id), value in values.items():
                args += [f"{kind}:{spec_id}", "" if value is None else encode(value)]
        except (TypeError, ValueError) as error:  # a value JSON cannot hold: not Redis's fault
            CACHE_ERRORS.labels("encode").inc()
            logger.error("cannot cache %s: %s", operation, error)
            return False
        try:
            self._write(keys=[self._generation_key], args=args)
        except redis.RedisError as error:
            self._failed(operation, error)
            return False
        self._succeeded()
        return True

    def _usable(self) -> bool:
        return time.monotonic() >= self._skip_until

    def _failed(self, operation: str, error: Exception) -> None:
        CACHE_ERRORS.labels(operation).inc()
        # Redis may come back without updates written meanwhile (or from an older
        # copy): a worker abandons the entries before writing again.
        self._must_renew = True
        with self._lock:
            self._skip_until = time.monotonic() + self._cooldown
            first = self._error is None
            self._error = f"{operation}: {error}" if str(error) else type(error).__name__
        if first:
            logger.warning(
                "query cache unavailable (%s); answering from the store, retrying in %.0f s",
                self._error,
                self._cooldown,
            )
        set_cache_state("degraded")

    def _succeeded(self) -> None:
        if self._error is None:
            return
        with self._lock:
            recovered, self._error = self._error is not None, None
        if recovered:  # only one thread reports it
            logger.info("query cache available again")
            set_cache_state("ok")
