"""A store, a simulator and a campaign wired together for the dialer's integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from campaigner.campaign import CampaignConfig, parse_campaign
from campaigner.contacts import ingest_contacts_file
from campaigner.retell import RetellClient
from campaigner.store import make_engine, transaction, upgrade_database
from retell_sim import ForcedOutcome, SimulatorConfig, SimulatorHandle, run_simulator
from tests.dialer.processes import Processes

CAMPAIGN_YAML = """
name: {name}
variants:
  - {{name: A, agent_id: agent_campaigner_demo, weight: 1}}
  - {{name: B, agent_id: agent_campaigner_demo_b, weight: 1}}
from_numbers: ["+14155550100", "+14155550101"]
columns:
  phone: phone
  dynamic_variables: {{first_name: first_name}}
window:
  days: [mon, tue, wed, thu, fri, sat, sun]
  start: "00:00"
  end: "23:59"
  allow_outside_federal_hours: true
caps:
  calls_per_second: 200
  max_calls_per_number_per_24h: 10
{extra}
"""


def numbers(count: int, area: str = "212") -> list[str]:
    """Fictional NANP numbers (555-01xx) in one area code."""
    return [f"+1{area}55501{n:02d}" for n in range(count)]


@dataclass
class Rig:
    engine: Engine
    sim: SimulatorHandle
    tmp: Path

    def campaign(self, extra: str = "", name: str = "t") -> CampaignConfig:
        return parse_campaign(CAMPAIGN_YAML.format(name=name, extra=extra))

    def ingest(self, config: CampaignConfig, phones: list[str], *, suppressed: int = 0) -> None:
        """Import `phones` into the campaign; all of them are accepted but `suppressed` numbers
        that are on the do-not-call list."""
        path = self.tmp / f"{config.name}-{len(phones)}.csv"
        rows = "".join(f"{phone},Person{n}\n" for n, phone in enumerate(phones))
        path.write_text("phone,first_name\n" + rows)
        with transaction(self.engine) as session:
            summary = ingest_contacts_file(
                session=session, config=config, path=path, out_dir=self.tmp / "out"
            )
        assert (summary.accepted, summary.suppressed) == (len(phones) - suppressed, suppressed)

    def force(self, number: str, reason: str, successful: bool | None = None) -> None:
        """Make every call to `number` end with `reason` (and this post-call verdict)."""
        order = ForcedOutcome(
            to_number=number, disconnection_reason=reason, call_successful=successful
        )
        self.sim.call(lambda sim: sim.force(order))

    def client(self) -> RetellClient:
        """A client whose retry waits are cut short: these tests are about outcomes, not timing."""

        async def short_wait(seconds: float) -> None:
            await asyncio.sleep(min(seconds, 0.01))

        return RetellClient(api_key=self.sim.api_key, base_url=self.sim.base_url, sleep=short_wait)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """The processes a test starts, killed at its end if still running."""
    registry = Processes(workdir=tmp_path)
    try:
        yield registry
    finally:
        registry.stop_all()


@pytest.fixture
def sim_config() -> SimulatorConfig:
    return SimulatorConfig(speed=400, concurrency_limit=5, cps=100, seed=11, analysis_delay_s=2)


@pytest.fixture
def rig(tmp_path: Path, sim_config: SimulatorConfig) -> Iterator[Rig]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade_database(engine)
    with run_simulator(sim_config) as sim:
        yield Rig(engine=engine, sim=sim, tmp=tmp_path)
    engine.dispose()
