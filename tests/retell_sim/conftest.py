"""Fixtures for the simulator's tests.

``make_simulator(**config)`` serves a fresh simulator (manual clock unless told otherwise) for the
test; ``sim`` is a default one shared by the module and reset for each test; ``client`` is the
official SDK pointed at it, ``http`` a plain httpx client with the key, and ``webhook_sink`` a real
HTTP server that records what it is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from retell import Retell
from retell_sim import SimulatorConfig, SimulatorHandle, run_simulator
from tests.retell_sim.helpers import WebhookSink, api_client

TEST_KEY = "key_simulator_tests"
MakeSimulator = Callable[..., SimulatorHandle]


@pytest.fixture
def make_simulator() -> Iterator[MakeSimulator]:
    """Start simulators with config overrides (default: manual clock, test key); all stop at
    the end of the test."""
    with ExitStack() as stack:

        def make(**overrides: Any) -> SimulatorHandle:
            config = SimulatorConfig(**{"speed": 0, "api_key": TEST_KEY, **overrides})
            return stack.enter_context(run_simulator(config))

        yield make


@pytest.fixture(scope="module")
def shared_simulator() -> Iterator[SimulatorHandle]:
    """One default simulator per test module (starting and stopping one costs ~0.25 s)."""
    with run_simulator(SimulatorConfig(speed=0, api_key=TEST_KEY, cps=1000)) as handle:
        yield handle


@pytest.fixture
def sim(shared_simulator: SimulatorHandle) -> SimulatorHandle:
    """A simulator with the demo workspace, a manual clock and a generous CPS, reset to its
    start-up state (workspace included) for this test."""
    shared_simulator.call(lambda simulator: simulator.reset(workspace=True))
    return shared_simulator


@pytest.fixture
def client(sim: SimulatorHandle) -> Iterator[Retell]:
    """The official SDK, pointed at ``sim``, without automatic retries."""
    with Retell(api_key=sim.api_key, base_url=sim.base_url, max_retries=0) as retell:
        yield retell


@pytest.fixture
def http(sim: SimulatorHandle) -> Iterator[httpx.Client]:
    """A plain HTTP client for ``sim`` carrying the API key."""
    with api_client(sim) as client:
        yield client


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    """A running `WebhookSink`."""
    with WebhookSink() as sink:
        yield sink
