"""Serve the simulator over real HTTP for tests, benchmarks and the demo.

``with run_simulator(config) as sim:`` serves on 127.0.0.1 and a free port in a background thread
(its own event loop) and yields a `SimulatorHandle`; ``async with serve_simulator(config) as sim:``
does the same as a task on the caller's loop (do not call it with a blocking client from that
loop). Both shut the server down cleanly on exit.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import uvicorn

from retell_sim.app import create_app
from retell_sim.config import SimulatorConfig
from retell_sim.engine import Simulator

__all__ = ["SimulatorHandle", "run_simulator", "serve_simulator", "serve_until_stopped"]

T = TypeVar("T")
_STARTUP_TIMEOUT_S = 15.0


@dataclass
class SimulatorHandle:
    """A running simulator: where it listens and a way into its in-process state."""

    base_url: str
    simulator: Simulator
    api_key: str = field(repr=False)
    _thread_id: int = field(repr=False, default=0)

    def call(self, action: Callable[[Simulator], T]) -> T:
        """Run ``action(simulator)`` on the simulator's event loop and return its result.

        State must only be changed on that loop; from another thread this hops over to it.
        """
        loop = self.simulator.loop
        if loop is None:
            raise RuntimeError("the simulator is not running")
        if threading.get_ident() == self._thread_id:
            return action(self.simulator)
        done: Future[T] = Future()

        def run() -> None:
            try:
                done.set_result(action(self.simulator))
            except BaseException as error:
                done.set_exception(error)

        loop.call_soon_threadsafe(run)
        return done.result(timeout=30)

    def advance(self, seconds: float) -> int:
        """Move the virtual clock forward, running what falls due; returns the events run."""
        return self.call(lambda sim: sim.scheduler.advance(seconds))

    def stats(self) -> dict[str, object]:
        """The /_sim/stats snapshot."""
        return self.call(lambda sim: sim.stats_snapshot())


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto says
    # TCP, and without it every response waits for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # Listen now, so clients told the URL queue up instead of being refused during startup.
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _server(config: SimulatorConfig, log_level: str) -> tuple[uvicorn.Server, Simulator]:
    app = create_app(config)
    settings = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        # The app stamps each answer with the virtual clock's Date instead.
        date_header=False,
    )
    simulator: Simulator = app.state.simulator
    return uvicorn.Server(settings), simulator


def _handle(simulator: Simulator, sock: socket.socket, thread_id: int) -> SimulatorHandle:
    host, port = sock.getsockname()[:2]
    return SimulatorHandle(
        base_url=f"http://{host}:{port}",
        simulator=simulator,
        api_key=simulator.api_key,
        _thread_id=thread_id,
    )


@contextmanager
def run_simulator(
    config: SimulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
) -> Iterator[SimulatorHandle]:
    """Serve a simulator in a background thread for the duration of the ``with`` block."""
    server, simulator = _server(config or SimulatorConfig(), log_level)
    sock = _bind(host, port)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="retell-simulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the simulator did not start (see the log above)")
        time.sleep(0.01)
    try:
        yield _handle(simulator, sock, thread.ident or 0)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@asynccontextmanager
async def serve_simulator(
    config: SimulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
) -> AsyncIterator[SimulatorHandle]:
    """Serve a simulator on the running loop for the duration of the ``async with`` block."""
    server, simulator = _server(config or SimulatorConfig(), log_level)
    sock = _bind(host, port)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                await task
                raise RuntimeError("the simulator did not start (see the log above)")
            await asyncio.sleep(0.01)
        yield _handle(simulator, sock, threading.get_ident())
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


def serve_until_stopped(
    config: SimulatorConfig,
    *,
    host: str,
    port: int,
    announce: Callable[[str], None],
    log_level: str = "warning",
) -> None:
    """Serve in the foreground until interrupted (Ctrl-C); ``announce`` gets the base URL once the
    socket is bound (so ``port=0`` reports the port actually chosen)."""
    server, _ = _server(config, log_level)
    sock = _bind(host, port)
    announce(f"http://{host}:{sock.getsockname()[1]}")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
