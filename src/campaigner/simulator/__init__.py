"""A Retell-compatible HTTP server: the stand-in for Retell in the demo, the tests and benchmarks.

It speaks Retell's API as retell-sdk 6.2.13 calls it, on a virtual clock, with Retell's limits
(concurrency, calls per second, request rate) and failures (injected 5xx, 429, slow, dropped and
lost responses), a seeded outcome model, batches that dial server-side, and signed webhooks. It
imports nothing from the rest of campaigner. See docs/simulator.md.

    from campaigner.simulator import SimulatorConfig, run_simulator

    with run_simulator(SimulatorConfig(speed=0)) as sim:
        client = retell.Retell(api_key=sim.api_key, base_url=sim.base_url)
        sim.advance(120)
"""

from __future__ import annotations

from campaigner.simulator.app import create_app
from campaigner.simulator.config import (
    API_KEY_ENV,
    DEFAULT_API_KEY,
    OutcomeModel,
    SimulatorConfig,
    resolve_api_key,
)
from campaigner.simulator.demo import (
    DEMO_AGENT_B_ID,
    DEMO_AGENT_ID,
    DEMO_FROM_NUMBERS,
    DEMO_LLM_B_ID,
    DEMO_LLM_ID,
)
from campaigner.simulator.engine import Simulator
from campaigner.simulator.faults import FAULT_PROFILES, FaultSpec, parse_faults
from campaigner.simulator.outcomes import DISCONNECTION_REASONS, ForcedOutcome, status_for_reason
from campaigner.simulator.server import (
    SimulatorHandle,
    run_simulator,
    serve_simulator,
    serve_until_stopped,
)
from campaigner.simulator.webhooks import sign_webhook

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_API_KEY",
    "DEMO_AGENT_B_ID",
    "DEMO_AGENT_ID",
    "DEMO_FROM_NUMBERS",
    "DEMO_LLM_B_ID",
    "DEMO_LLM_ID",
    "DISCONNECTION_REASONS",
    "FAULT_PROFILES",
    "FaultSpec",
    "ForcedOutcome",
    "OutcomeModel",
    "Simulator",
    "SimulatorConfig",
    "SimulatorHandle",
    "create_app",
    "parse_faults",
    "resolve_api_key",
    "run_simulator",
    "serve_simulator",
    "serve_until_stopped",
    "sign_webhook",
    "status_for_reason",
]
