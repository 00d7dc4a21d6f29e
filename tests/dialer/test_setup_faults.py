"""Faults of the setup or the account, not of the contacts: the campaign pauses, nobody's attempts
are spent, and once the fault is fixed and the campaign resumed every contact ends as it would
have without the fault, with no second call for any attempt."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlmodel import Session

from campaigner.campaign import CampaignConfig, OutcomeClass
from campaigner.dialer.runner import CampaignRunner, RunSummary
from campaigner.store import CampaignStatus, ContactStatus, campaigns
from retell_sim import ForcedOutcome, SimulatorConfig
from tests.dialer.conftest import Rig, numbers
from tests.dialer.test_runner import FAST, assert_exactly_once, contacts, run

CONTACTS = 8
SIM = {"speed": 400, "concurrency_limit": 5, "cps": 100, "seed": 11, "analysis_delay_s": 2}


def answered_everywhere(rig: Rig, phones: list[str]) -> None:
    """Every call to these numbers is answered and succeeds: the outcome without any fault."""
    for number in phones:
        order = ForcedOutcome(
            to_number=number, disconnection_reason="agent_hangup", call_successful=True
        )
        rig.sim.call(lambda sim, order=order: sim.force(order))


def nobody_lost_an_attempt(rig: Rig) -> None:
    """The contacts are all due again, with none of their attempts spent."""
    assert {c.status for c in contacts(rig)} <= {ContactStatus.PENDING, ContactStatus.WAITING_RETRY}
    assert {c.attempts_made for c in contacts(rig)} == {0}
    assert {c.final_outcome for c in contacts(rig)} == {None}


def resume(rig: Rig, config: CampaignConfig) -> None:
    with Session(rig.engine) as session:
        campaigns.set_status(
            session=session, name=config.name, status=CampaignStatus.ACTIVE, reason=None
        )
        session.commit()


def every_contact_succeeded_once(rig: Rig) -> None:
    assert Counter(c.final_outcome for c in contacts(rig)) == {OutcomeClass.SUCCESS: CONTACTS}
    assert {c.attempts_made for c in contacts(rig)} == {1}
    assert_exactly_once(rig)


async def test_a_caller_id_not_in_the_workspace_pauses_without_burning_the_list(
    rig: Rig,
) -> None:
    phones = numbers(CONTACTS)
    answered_everywhere(rig, phones)
    # A caller ID not in the workspace: Retell's 400 for it names no field.
    mistyped = rig.campaign().model_copy(update={"from_numbers": ["+14155550199"]})
    rig.ingest(mistyped, phones)

    summary = await run_config(rig, mistyped)

    assert summary.status == "paused"
    assert summary.stop_reason.startswith("Retell refused the campaign's setup")
    assert rig.sim.stats()["calls_created"] == 0
    nobody_lost_an_attempt(rig)
    fixed = rig.campaign()
    resume(rig, fixed)
    await run(rig)
    every_contact_succeeded_once(rig)


@pytest.mark.parametrize(
    "sim_config", [SimulatorConfig(**SIM, credit_calls=3)], ids=["credit for three calls"]
)
async def test_credit_running_out_pauses_and_the_cut_calls_are_not_held_against_anyone(
    rig: Rig,
) -> None:
    phones = numbers(CONTACTS)
    answered_everywhere(rig, phones)
    rig.ingest(rig.campaign(), phones)

    summary = await run(rig)

    assert summary.status == "paused"
    assert "credit" in summary.stop_reason.lower() or "402" in summary.stop_reason
    nobody_lost_an_attempt(rig)
    rig.sim.call(lambda sim: sim.repair_account())
    resume(rig, rig.campaign())
    await run(rig)
    every_contact_succeeded_once(rig)


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(**SIM, trunk_failure="telephony_provider_permission_denied")],
    ids=["trunk credentials refused"],
)
async def test_a_trunk_refusing_its_credentials_pauses_without_burning_the_list(
    rig: Rig,
) -> None:
    phones = numbers(CONTACTS)
    answered_everywhere(rig, phones)
    rig.ingest(rig.campaign(), phones)

    summary = await run(rig)

    assert summary.status == "paused"
    assert "telephony_provider_permission_denied" in summary.stop_reason
    nobody_lost_an_attempt(rig)
    rig.sim.call(lambda sim: sim.repair_account())
    resume(rig, rig.campaign())
    await run(rig)
    every_contact_succeeded_once(rig)


async def test_an_agent_version_the_workspace_lacks_pauses_without_burning_the_list(
    rig: Rig,
) -> None:
    phones = numbers(CONTACTS)
    answered_everywhere(rig, phones)
    good = rig.campaign()
    missing_version = good.model_copy(
        update={
            "variants": [
                variant.model_copy(update={"version": 7}) for variant in good.agent_variants()
            ]
        }
    )
    rig.ingest(missing_version, phones)

    summary = await run_config(rig, missing_version)

    assert summary.status == "paused"
    assert summary.stop_reason.startswith("Retell refused the agent or number")
    assert rig.sim.stats()["calls_created"] == 0
    nobody_lost_an_attempt(rig)
    resume(rig, good)
    await run(rig)
    every_contact_succeeded_once(rig)


async def run_config(rig: Rig, config: CampaignConfig) -> RunSummary:
    async with rig.client() as client:
        return await CampaignRunner(
            config=config, engine=rig.engine, client=client, options=FAST
        ).run()
