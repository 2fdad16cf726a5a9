"""``specsvc serve --workers N``: N API processes over one store, sharing its ports.

The first process is the master; it serves nothing itself. It checks what every worker
would check (addresses, authentication, the store: created, its chain checked, its read
models repaired, once), reserves the ports (a port 0 becomes a concrete one), then starts
the workers as fresh processes (``serve --worker-link FD``: nothing is inherited through
``fork()``, which grpc does not survive) with the settings in their environment. Each
worker binds the same ports with SO_REUSEPORT, so the kernel spreads connections over
them. Once every worker listens, the master says so in the lines a single process prints.

SIGTERM and SIGINT to the master stop every worker (0 once all stopped cleanly); SIGHUP
is passed on (each worker reloads its tokens file). A worker that exits on its own stops
the others and the master exits 7, for its supervisor to restart the whole server. A
worker whose master is gone (killed) stops itself: the link between them closes.

On the embedded SQLite store every worker runs the projections after its own writes,
and polls the event store's head every ``WORKER_POLL_SECONDS`` for the others' commits
(docs/architecture.md, Deployment).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from types import FrameType

from rest_api.server import shared_socket
from specsvc.cli.common import EXIT_SERVER
from specsvc.config import Settings, variable
from specsvc.errors import ConfigurationError

logger = logging.getLogger("specsvc.serve")

# How often a worker on the SQLite store looks for events the other workers committed.
WORKER_POLL_SECONDS = 0.01
# How long the master waits for its workers to stop before it kills them.
STOP_SECONDS = 30.0
# How often the master looks at its workers when no signal wakes it.
WATCH_SECONDS = 0.1
READY = b"ready\n"


def count(settings: Settings) -> int:
    """How many API processes ``settings`` ask for (0: one per core)."""
    if settings.workers < 0:
        raise ConfigurationError(
            f"--workers {settings.workers}: give a number of processes, or 0 for one per core"
        )
    return settings.workers or os.cpu_count() or 1


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    link: socket.socket
    ready: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid


def supervise(settings: Settings, workers: int) -> int:
    """Start ``workers`` API processes and watch them until SIGTERM or SIGINT."""
    from specsvc.cli.serve import (
        EXIT_REFUSED,
        GRPC_LISTENING,
        REST_LISTENING,
        authenticate,
        listen_addresses,
        open_store,
        show_host,
    )

    stopping = threading.Event()
    started: list[Worker] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    def pass_on(signum: int, frame: FrameType | None) -> None:
        for worker in started:
            if worker.process.poll() is None:
                worker.process.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    signal.signal(signal.SIGHUP, pass_on)
    rest, grpc = listen_addresses(settings)
    if authenticate(settings, rest, grpc) is None:
        return EXIT_REFUSED
    open_store(settings).close()
    with ExitStack() as held:
        rest = held.enter_context(reserved(rest, "--rest-addr"))
        if grpc is not None:
            grpc = held.enter_context(reserved(grpc, "--grpc-addr"))
        each = worker_settings(settings, rest, grpc)
        try:
            for _ in range(workers if not stopping.is_set() else 0):
                started.append(start_worker(each))
            result = _await_ready(started, stopping)
            if result is None and not stopping.is_set():
                pids = ", ".join(str(w.pid) for w in started)
                logger.info("serving with %d workers (pids %s)", len(started), pids)
                if grpc is not None:
                    logger.info(GRPC_LISTENING, show_host(grpc[0]), grpc[1])
                logger.info(REST_LISTENING, show_host(rest[0]), rest[1])
                result = _watch(started, stopping)
        finally:
            stopped = stop_workers(started)
            logger.info("stopped")
    return result or stopped


def worker_settings(
    settings: Settings, rest: tuple[str, int], grpc: tuple[str, int] | None
) -> Settings:
    """A worker's settings: the master's, on the reserved ports, without the start-up
    chain check the master made; on SQLite, polling for the other workers' commits."""
    from specsvc.cli.serve import show_host

    poll = settings.projection_poll_interval
    if not settings.database_url:
        poll = min(poll or WORKER_POLL_SECONDS, WORKER_POLL_SECONDS)
    return replace(
        settings,
        workers=1,
        rest_addr=f"{show_host(rest[0])}:{rest[1]}",
        grpc_addr=None if grpc is None else f"{show_host(grpc[0])}:{grpc[1]}",
        startup_check_events=0,
        projection_poll_interval=poll,
    )


def settings_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the SPECSVC_* variables that give them back (unset: empty)."""
    environment = {}
    for option in Settings.options():
        value = getattr(settings, option.name)
        if value is None:
            text = ""
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        environment[variable(option)] = text
    return environment


def start_worker(settings: Settings) -> Worker:
    """A fresh ``specsvc serve`` process as a worker, linked to this one."""
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "specsvc.cli", "serve", "--worker-link", str(theirs.fileno())],
            env={**os.environ, **settings_environment(settings)},
            stdin=subprocess.DEVNULL,
            pass_fds=[theirs.fileno()],
            # Its own process group: a terminal's Ctrl-C reaches the master only, which
            # stops each worker once.
            process_group=0,
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    return Worker(process, ours)


def _await_ready(workers: list[Worker], stopping: threading.Event) -> int | None:
    """None once every worker listens (or a stop was asked); else the exit code of the
    first worker that exited before it listened."""
    while not stopping.is_set() and not all(w.ready for w in workers):
        for worker in workers:
            code = worker.process.poll()
            if code is not None:
                logger.error("worker %d exited (%s) before it listened", worker.pid, _how(code))
                return code or EXIT_SERVER
            if not worker.ready and _readable(worker.link):
                worker.ready = worker.link.recv(len(READY)) == READY
        stopping.wait(WATCH_SECONDS)
    return None


def _readable(link: socket.socket) -> bool:
    link.setblocking(False)
    try:
        return bool(link.recv(1, socket.MSG_PEEK))
    except BlockingIOError:
        return False
    finally:
        link.setblocking(True)


def _watch(workers: list[Worker], stopping: threading.Event) -> int:
    """0 when asked to stop; EXIT_SERVER as soon as a worker exits by itself."""
    while not stopping.wait(WATCH_SECONDS):
        for worker in workers:
            code = worker.process.poll()
            if code is not None:
                logger.error(
                    "worker %d exited (%s); stopping the other workers", worker.pid, _how(code)
                )
                return EXIT_SERVER
    return 0


def stop_workers(workers: list[Worker]) -> int:
    """SIGTERM each running worker, wait for all (SIGKILL after STOP_SECONDS); 0 when
    every one that was running stopped cleanly."""
    running = [w for w in workers if w.process.poll() is None]
    for worker in running:
        worker.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    result = 0
    for worker in running:
        try:
            code = worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.error("worker %d did not stop in %.0f s: killed", worker.pid, STOP_SECONDS)
            worker.process.kill()
            code = worker.process.wait()
        if code != 0:
            logger.error("worker %d stopped with %s", worker.pid, _how(code))
            result = EXIT_SERVER
    for worker in workers:
        worker.link.close()
    return result


def _how(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


@contextmanager
def reserved(addr: tuple[str, int], flag: str) -> Iterator[tuple[str, int]]:
    """Hold ``addr``'s port (port 0: a free one) for the workers while they run; yield
    the concrete address. A port another server holds is refused even when that server
    set SO_REUSEPORT too: the port is first bound without it."""
    from specsvc.cli.serve import cannot_listen

    host, port = addr
    try:
        family, _, _, _, address = socket.getaddrinfo(
            host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )[0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
            port = probe.getsockname()[1]
        held = shared_socket(family, (address[0], port, *address[2:]))
    except OSError as error:
        raise cannot_listen(flag, host, port, error) from None
    with held:
        yield host, port


class MasterLink:
    """A worker's end of its master's link: it says when the worker listens, and its
    closing (the master is gone) stops the worker."""

    def __init__(self, fd: int):
        try:
            self._socket = socket.socket(fileno=fd)
        except OSError:
            raise ConfigurationError(f"--worker-link {fd} is not a master's link") from None
        threading.Thread(target=self._follow, name="master-link", daemon=True).start()

    def ready(self) -> None:
        self._socket.sendall(READY)

    def _follow(self) -> None:
        try:
            while self._socket.recv(64):
                pass
        except OSError:
            pass
        logger.warning("the master process is gone: stopping")
        os.kill(os.getpid(), signal.SIGTERM)
