"""The composition root: settings and a role in, running components out.

Only entry points import this module: the command line (``specsvc serve``,
``specsvc project`` and the operator commands), ``SpecService.open()``, and tests that
need the parts. The store is the SQLite file of ``--db`` unless ``--database-url`` names
a PostgreSQL database (docs/architecture.md, Deployment).
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from types import ModuleType
from typing import cast

from specsvc.application import SpecApplication
from specsvc.cache import NoCache, QueryCache
from specsvc.config import Settings
from specsvc.errors import ConfigurationError, StoreCorrupted, StoreNotFound
from specsvc.persistence.chain import CHAIN_KEY, ChainedLog, ChainKeyMismatch, read_key_file
from specsvc.persistence.interfaces import SpecTimelineRecorder
from specsvc.persistence.sealing import CipherKeyError, cipher_env
from specsvc.persistence.sqlite import factory as sqlite
from specsvc.persistence.sqlite.datastore import check_durable
from specsvc.persistence.sqlite.files import remove_leftovers, store_exists
from specsvc.projections import SpecProjections
from specsvc.runners.embedded import EmbeddedRunner
from specsvc.runners.monitor import ProjectionMonitor
from specsvc.runners.remote import RemoteMonitor
from specsvc.runners.worker import ProjectionWorker
from specsvc.service import SpecService
from specsvc.service.cached import cache_entries
from specsvc.spectypes import SpecTypeRegistry
from specsvc.system import spec_system

logger = logging.getLogger(__name__)


class Role(Enum):
    """What a process does with the store."""

    # An API process, or the Python API. On the embedded store the projections run here,
    # in step with writes, and (with a poll interval set) a poller picks up what other
    # processes commit. On PostgreSQL the projection worker runs them; this process
    # follows what it projects.
    API = "api"
    # A one-off command (operator tools, status): on the embedded store, projections run
    # here when it writes or asks to catch up; no poller.
    TOOL = "tool"
    # An operator command that must see the store as it is: nothing is projected on start.
    MAINTENANCE = "maintenance"


@dataclass
class Components:
    """The running parts of a store, for entry points that need more than the service."""

    settings: Settings
    monitor: ProjectionMonitor
    application: SpecApplication
    projections: SpecProjections
    service: SpecService


def postgres() -> ModuleType:
    """The PostgreSQL backend, which needs the ``postgres`` extra (psycopg)."""
    try:
        from specsvc.persistence.postgres import factory
    except ImportError as error:
        raise ConfigurationError(
            f"--database-url needs the PostgreSQL driver ({error.name} is not installed):"
            " pip install 'specsvc[postgres]'"
        ) from None
    return factory


def env_for(settings: Settings) -> dict[str, str]:
    """The ``eventsourcing`` environment of the store that ``settings`` name, with the
    cipher of ``--cipher-key-file`` (read here: a file that cannot be used is a
    ConfigurationError)."""
    cipher = cipher_env(settings.cipher_key_file)
    if settings.database_url:
        env = postgres().library_env(settings.database_url, cipher)
    else:
        env = sqlite.library_env(
            SpecApplication.name,
            SpecProjections.name,
            settings.db,
            settings.sqlite_lock_timeout,
            cipher,
        )
    return {**env, **chain_env(settings)}


def chain_env(settings: Settings) -> dict[str, str]:
    """The hash chain's key for the recorders (docs/behaviour.md, Tamper evidence)."""
    if not settings.chain_key_file:
        return {}
    try:
        key = read_key_file(settings.chain_key_file)
    except ValueError as error:
        raise ConfigurationError(f"SPECSVC_CHAIN_KEY_FILE: {error}") from None
    return {CHAIN_KEY: base64.b64encode(key).decode("ascii")}


@contextmanager
def key_checked() -> Iterator[None]:
    """A key file that cannot be used, or a key that does not read the store (both found
    as the store opens, before anything reads it), as a ConfigurationError."""
    try:
        yield
    except (CipherKeyError, ChainKeyMismatch) as error:
        raise ConfigurationError(str(error)) from None


def start(settings: Settings, role: Role = Role.API) -> Components:
    """Start the parts; on the embedded store the projections catch up before this
    returns (but in maintenance). A server (``Role.API``) first checks the hash chain
    over the end of the log."""
    with key_checked():
        components = _start(settings, role)
    if role is Role.API:
        try:
            check_chain_tail(components.application, settings.startup_check_events)
            check_read_model_rows(components.application, components.projections)
        except BaseException:
            components.service.close()
            raise
    return components


def check_chain_tail(application: SpecApplication, events: int) -> None:
    """StoreCorrupted, naming the first position, unless the chain holds over the last
    ``events`` events and every event after the newest checkpoint the store knows
    (docs/behaviour.md, Tamper evidence)."""
    from specsvc.operator.chain_check import check_checkpoint, walk_chain

    recorder = cast(ChainedLog, application.recorder)
    head = application.recorder.max_notification_id() or 0
    if events <= 0 or head == 0:
        return
    started = time.monotonic()
    after = max(0, head - events)
    problems = []
    checkpoint = recorder.newest_checkpoint()
    if checkpoint is not None:
        after = min(after, checkpoint[0])
        problems += check_checkpoint(application.recorder, *checkpoint)
    found, checked = walk_chain(application.recorder, recorder.chain, after=after)
    problems += found
    if problems:
        first = min(problems, key=lambda p: p.position or 0)
        raise StoreCorrupted(
            f"the hash chain breaks at position {first.position} ({first.kind}:"
            f" {first.detail}); not starting: run specsvc verify",
            details={"position": first.position, "kind": first.kind, "problems": len(problems)},
        )
    logger.info(
        "hash chain holds over the last %d events (from position %d) in %.0f ms",
        checked,
        after + 1,
        (time.monotonic() - started) * 1000,
    )


def check_read_model_rows(
    application: SpecApplication, projections: SpecProjections, attempts: int = 3
) -> None:
    """StoreCorrupted unless each read-model table holds as many rows as the log up to
    the tracked position makes: rows deleted on disk stop the start (docs/behaviour.md,
    Tamper evidence). Skipped, with a log line, while a worker keeps moving them."""
    tracking = projections.recorder
    for _ in range(attempts):
        tracked = tracking.max_tracking_id(application.name) or 0
        counts = projections.read_model.row_counts()
        if (tracking.max_tracking_id(application.name) or 0) == tracked:
            break
    else:
        logger.info("read models: row counts not checked at start, the worker is projecting")
        return
    expected = application.timeline.projected_counts(tracked)
    lacking = [
        f"{table} holds {counts[table]} rows, the log makes {rows}"
        for table, rows in expected.items()
        if counts[table] != rows
    ]
    if lacking:
        raise StoreCorrupted(
            f"the read models were changed: projected to position {tracked},"
            f" {'; '.join(lacking)}; not starting: run specsvc verify, then specsvc"
            " rebuild-projections",
            details={"position": None, "kind": "read model differs"},
        )


def _start(settings: Settings, role: Role) -> Components:
    if settings.database_url:
        return _start_shared(settings, role)
    if settings.redis_url:
        raise ConfigurationError(
            "--redis-url caches the read models of a PostgreSQL store: give --database-url"
            " postgresql://USER@HOST:PORT/DB too (the embedded store needs no cache)"
        )
    if settings.db is not None:
        for leftover in remove_leftovers(settings.db):
            logger.info("removed %s, left by an interrupted rebuild", leftover)
    poll = settings.projection_poll_interval if role is Role.API else None
    runner = EmbeddedRunner(
        spec_system,
        env=env_for(settings),
        poll_interval=poll,
        catch_up_on_start=role is not Role.MAINTENANCE,
        repair_read_models=role is Role.API,
        defer_projection=role is Role.API,
    )
    runner.start()
    application = runner.get(SpecApplication)
    projections = runner.get(SpecProjections)
    return _assemble(settings, runner, application, projections, runner.stop)


def _start_shared(settings: Settings, role: Role) -> Components:
    """The parts of an API process (or a tool) over PostgreSQL: no projections run here."""
    env = env_for(settings)
    application = SpecApplication(env=env)
    projections = SpecProjections(env=env)
    cache: QueryCache = NoCache()
    try:
        monitor = RemoteMonitor(
            application, projections, catch_up_timeout=settings.consistency_timeout
        )
        if role is Role.API:
            cache = query_cache(settings, application)
    except Exception:
        application.close()
        projections.close()
        raise

    def close() -> None:
        monitor.close()
        cache.close()
        application.close()
        projections.close()

    return _assemble(settings, monitor, application, projections, close, cache)


def query_cache(settings: Settings, application: SpecApplication) -> QueryCache:
    """The query cache ``--redis-url`` names, keyed by the event store's identity, or
    none (docs/architecture.md, Query cache)."""
    if not settings.redis_url:
        return NoCache()
    try:
        from specsvc.cache.redis import RedisCache
    except ImportError as error:
        raise ConfigurationError(
            f"--redis-url needs the Redis client ({error.name} is not installed):"
            " pip install 'specsvc[redis]'"
        ) from None
    store = cast(SpecTimelineRecorder, application.recorder).store_id()
    return RedisCache(settings.redis_url, store)


def _assemble(
    settings: Settings,
    monitor: ProjectionMonitor,
    application: SpecApplication,
    projections: SpecProjections,
    close: Callable[[], None],
    cache: QueryCache | None = None,
) -> Components:
    try:
        types = SpecTypeRegistry.load(settings.types_dir)
        service = SpecService(
            application,
            projections.read_model,
            types,
            settings,
            monitor,
            on_close=close,
            cache=cache,
        )
        if settings.database_url or settings.db is not None:
            check_durability(service)
    except Exception:
        close()
        raise
    return Components(settings, monitor, application, projections, service)


def start_worker(settings: Settings) -> ProjectionWorker:
    """The projection worker of the PostgreSQL store ``settings`` name (not yet running)."""
    if not settings.database_url:
        raise ConfigurationError(
            "specsvc project runs the projections of a PostgreSQL store: give"
            " --database-url postgresql://USER@HOST:PORT/DB (the embedded SQLite store's"
            " server, specsvc serve, runs its projections itself)"
        )
    with key_checked():
        worker = ProjectionWorker(env_for(settings))
    try:
        check_chain_tail(worker.application, settings.startup_check_events)
        check_read_model_rows(worker.application, worker.projections)
        for name, described in worker.describe().items():
            postgres().check_durable(name, described)
        worker.use_cache(query_cache(settings, worker.application), cache_entries)
    except Exception:
        worker.close()
        raise
    return worker


def open_existing(settings: Settings, role: Role = Role.TOOL) -> Components:
    """Like ``start``, but refuse a store that does not exist rather than create it."""
    if settings.database_url:
        if not postgres().store_exists(settings.database_url, SpecApplication.name):
            shown = postgres().shown(settings.database_url)
            raise StoreNotFound(f"no event store in {shown}", details={"database_url": shown})
    elif settings.db is None or not store_exists(settings.db):
        raise StoreNotFound(f"no event store at {settings.db}", details={"db": settings.db})
    return start(settings, role)


def check_durability(service: SpecService) -> None:
    """Refuse to run on a store that could lose an acknowledged write: every SQLite file
    in WAL mode with synchronous=FULL; PostgreSQL with fsync and synchronous_commit on."""
    check = postgres().check_durable if service.settings.database_url else check_durable
    for name, described in service.storage_info().items():
        check(name, described)
