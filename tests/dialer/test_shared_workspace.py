"""Campaigns sharing one Retell workspace lease its slots from one ledger: together they never
ask Retell for more calls than it can hold, so no dial is wasted on a capacity refusal."""

from __future__ import annotations

import asyncio

import pytest

from campaigner.campaign import OutcomeClass
from campaigner.dialer.runner import CampaignRunner, RunSummary
from retell_sim import SimulatorConfig
from tests.dialer.conftest import Rig, numbers
from tests.dialer.test_runner import FAST, assert_exactly_once, attempts, campaign_id, contacts

CAMPAIGNS = ("north", "south", "west")
PER_CAMPAIGN = 24


async def run_together(rig: Rig, extra: dict[str, str] | None = None) -> list[RunSummary]:
    """One run of each campaign, all at once, each with its own client (as on several
    workers)."""

    async def run_one(name: str) -> RunSummary:
        config = rig.campaign((extra or {}).get(name, ""), name=name)
        async with rig.client() as client:
            return await CampaignRunner(
                config=config, engine=rig.engine, client=client, options=FAST
            ).run()

    return list(await asyncio.gather(*(run_one(name) for name in CAMPAIGNS)))


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(speed=400, concurrency_limit=6, cps=100, seed=3, analysis_delay_s=2)],
)
async def test_campaigns_sharing_a_workspace_waste_no_dial_on_capacity(rig: Rig) -> None:
    for index, name in enumerate(CAMPAIGNS):
        rig.ingest(rig.campaign(name=name), numbers(PER_CAMPAIGN, area=f"{212 + index}"))

    summaries = await run_together(rig)

    assert sum(summary.calls_placed for summary in summaries) >= len(CAMPAIGNS) * PER_CAMPAIGN
    refused = [a for a in attempts(rig) if a.outcome_class == OutcomeClass.CAPACITY]
    assert refused == []
    assert rig.sim.stats()["peak_concurrency"] == 6
    assert {c.attempts_made for c in contacts(rig)} == {1}
    assert_exactly_once(rig)


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(speed=400, concurrency_limit=6, cps=100, seed=3, analysis_delay_s=2)],
)
async def test_a_campaign_of_higher_priority_gets_more_of_the_workspace(rig: Rig) -> None:
    for index, name in enumerate(CAMPAIGNS):
        rig.ingest(rig.campaign(name=name), numbers(PER_CAMPAIGN, area=f"{212 + index}"))

    await run_together(rig, {"north": "priority: 4"})

    sent = sorted((a.key_first_sent_at, a.campaign_id) for a in attempts(rig))
    north = campaign_id(rig, "north")
    last_of_north = max(at for at, campaign in sent if campaign == north)
    others_meanwhile = [c for at, c in sent if c != north and at is not None and at < last_of_north]
    # With four slots of six, north dials its 24 while the two others dial about 6 each (24
    # each if the workspace were split evenly).
    assert len(others_meanwhile) <= PER_CAMPAIGN
    assert {c.attempts_made for c in contacts(rig)} == {1}
