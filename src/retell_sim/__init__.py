"""A Retell-compatible HTTP server: the stand-in for Retell in campaigner's demo, tests, benches.

It speaks Retell's API as retell-sdk 6.2.13 calls it, on a virtual clock, with Retell's limits
(concurrency, calls per second, request rate) and failures (injected 5xx, 429, slow, dropped and
lost responses), a seeded outcome model, batches that dial server-side, and signed webhooks. It is
a package and a distribution of its own (`retell-sim`) and imports nothing of campaigner, so a
client is tested against Retell's behaviour, not against its own code. `python -m retell_sim`
serves it; see docs/simulator.md.

    from retell_sim import SimulatorConfig, run_simulator

    with run_simulator(SimulatorConfig(speed=0)) as sim:
        client = retell.Retell(api_key=sim.api_key, base_url=sim.base_url)
        sim.advance(120)
"""

from __future__ import annotations

from retell_sim.app import create_app
from retell_sim.config import (
    API_KEY_ENV,
    DEFAULT_API_KEY,
    OutcomeModel,
    SimulatorConfig,
    resolve_api_key,
)
from retell_sim.demo import (
    DEMO_AGENT_B_ID,
    DEMO_AGENT_ID,
    DEMO_FROM_NUMBERS,
    DEMO_LLM_B_ID,
    DEMO_LLM_ID,
)
from retell_sim.engine import Simulator
from retell_sim.faults import FAULT_PROFILES, FaultSpec, parse_faults
from retell_sim.outcomes import DISCONNECTION_REASONS, ForcedOutcome, status_for_reason
from retell_sim.server import (
    SimulatorHandle,
    run_simulator,
    serve_simulator,
    serve_until_stopped,
)
from retell_sim.webhooks import sign_webhook

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
