"""The runner against the simulator over real HTTP, with a real SQLite store."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from campaigner import store
from campaigner.campaign import OutcomeClass
from campaigner.dialer.runner import CampaignRunner, RunOptions
from campaigner.retell import RetellClient
from campaigner.store import (
    AttemptState,
    CallAttempt,
    CampaignStatus,
    Contact,
    ContactStatus,
    campaigns,
    suppression,
)
from retell_sim import ForcedOutcome, SimulatorConfig
from tests.dialer.conftest import Rig, numbers

# Faults strike replays too; enough rounds that a run resolves every lost create by itself.
FAST = RunOptions(
    poll_interval=0.05, concurrency_refresh=0.5, reconcile_interval=0.1, max_reconcile_rounds=60
)


async def run(rig: Rig, config_extra: str = "", options: RunOptions = FAST, name: str = "t"):  # type: ignore[no-untyped-def]
    config = rig.campaign(config_extra, name=name)
    async with rig.client() as client:
        runner = CampaignRunner(config=config, engine=rig.engine, client=client, options=options)
        return await runner.run()


def attempts(rig: Rig) -> list[CallAttempt]:
    with Session(rig.engine) as session:
        return list(session.exec(select(CallAttempt)))


def unsent_attempts(rig: Rig) -> int:
    return sum(1 for attempt in attempts(rig) if attempt.state == AttemptState.PENDING_SEND)


def contacts(rig: Rig) -> list[Contact]:
    with Session(rig.engine) as session:
        return list(session.exec(select(Contact)))


def campaign_id(rig: Rig, name: str) -> int:
    with Session(rig.engine) as session:
        campaign = campaigns.get_by_name(session=session, name=name)
    assert campaign is not None
    assert campaign.id is not None
    return campaign.id


def contacts_of(rig: Rig, campaign: str) -> list[Contact]:
    number = campaign_id(rig, campaign)
    return [contact for contact in contacts(rig) if contact.campaign_id == number]


def assert_exactly_once(rig: Rig) -> None:
    """Every call the simulator placed belongs to exactly one attempt, and vice versa."""
    placed = [a.retell_call_id for a in attempts(rig) if a.retell_call_id]
    assert len(placed) == len(set(placed))
    assert rig.sim.stats()["calls_created"] == len(placed)


async def test_every_contact_is_dialed_once_and_settled(rig: Rig) -> None:
    rig.ingest(rig.campaign(), numbers(40))
    summary = await run(rig)
    assert summary.stop_reason == "nothing is due now"
    assert summary.calls_placed == 40
    assert_exactly_once(rig)
    statuses = Counter(c.status for c in contacts(rig))
    assert set(statuses) <= {ContactStatus.DONE, ContactStatus.WAITING_RETRY}
    assert all(a.finalized for a in attempts(rig))
    assert summary.counts["contacts"] == 40
    assert rig.sim.stats()["peak_concurrency"] <= 5


async def test_concurrency_is_saturated_but_never_exceeded(rig: Rig) -> None:
    rig.ingest(rig.campaign(), numbers(60))
    await run(rig)
    stats = rig.sim.stats()
    assert stats["peak_concurrency"] == 5
    errors = [a for a in attempts(rig) if a.disconnection_reason == "concurrency_limit_reached"]
    assert errors == []


async def test_outcomes_drive_retries_and_dnc_suppresses_everywhere(rig: Rig) -> None:
    busy, dnc, success = numbers(3, area="646")
    for number, reason, ok in (
        (busy, "dial_busy", None),
        (dnc, "user_requested_dnc", None),
        (success, "agent_hangup", True),
    ):
        order = ForcedOutcome(to_number=number, disconnection_reason=reason, call_successful=ok)
        rig.sim.call(lambda sim, order=order: sim.force(order))
    rig.ingest(rig.campaign(), [busy, dnc, success])
    # Another campaign has the number already, from before anyone asked not to be called.
    fresh = numbers(2, area="917")
    rig.ingest(rig.campaign(name="earlier"), [dnc, fresh[0]])
    await run(rig)
    by_number = {c.phone_e164: c for c in contacts_of(rig, "t")}
    assert by_number[busy].status == ContactStatus.WAITING_RETRY
    assert by_number[busy].attempts_made == 1
    assert by_number[dnc].final_outcome == OutcomeClass.DNC_REQUEST
    assert by_number[success].final_outcome == OutcomeClass.SUCCESS
    with Session(rig.engine) as session:
        assert dnc in suppression.reasons(session=session, numbers=[dnc, busy])
    # A campaign importing the number now refuses it; the one that has it never dials it.
    rig.ingest(rig.campaign(name="later"), [dnc, fresh[1]], suppressed=1)
    await run(rig, name="earlier")
    await run(rig, name="later")
    assert [c.phone_e164 for c in contacts_of(rig, "later")] == [fresh[1]]
    earlier = {c.phone_e164: c for c in contacts_of(rig, "earlier")}
    assert earlier[dnc].attempts_made == 0
    first = campaign_id(rig, "t")
    assert {a.to_number for a in attempts(rig) if a.campaign_id != first} == set(fresh)


@pytest.mark.parametrize(
    "sim_config",
    [
        SimulatorConfig(
            speed=400,
            concurrency_limit=5,
            cps=100,
            seed=5,
            analysis_delay_s=2,
            faults="lost_create=0.3,5xx=0.1,drop=0.05,429=0.1",
        )
    ],
)
async def test_faults_end_with_every_contact_settled_and_no_duplicate_call(rig: Rig) -> None:
    rig.ingest(rig.campaign(), numbers(30))
    summary = await run(rig)
    assert summary.stop_reason == "nothing is due now"
    assert summary.calls_placed == 30
    assert_exactly_once(rig)
    statuses = Counter(c.status for c in contacts(rig))
    assert statuses[ContactStatus.DIALING] == 0
    faults = rig.sim.stats()["faults_injected"]
    assert isinstance(faults, dict)
    assert faults.get("lost_create", 0) > 0


async def test_paused_campaign_places_no_call(rig: Rig) -> None:
    config = rig.campaign()
    rig.ingest(config, numbers(5))
    with Session(rig.engine) as session:
        campaigns.set_status(
            session=session, name=config.name, status=CampaignStatus.PAUSED, reason="test"
        )
        session.commit()
    summary = await run(rig)
    assert summary.calls_placed == 0
    assert summary.status == "paused"
    assert rig.sim.stats()["calls_created"] == 0


async def test_budget_pauses_the_campaign(rig: Rig) -> None:
    rig.ingest(rig.campaign(), numbers(40))
    summary = await run(rig, "budget_cents: 50")
    assert summary.status == "paused"
    assert summary.stop_reason.startswith("budget reached")
    assert summary.calls_placed < 40
    assert_exactly_once(rig)


async def test_attempts_written_ahead_are_given_back_when_the_campaign_pauses(rig: Rig) -> None:
    rig.ingest(rig.campaign(), numbers(40))
    summary = await run(rig, "budget_cents: 50")
    assert summary.status == "paused"
    # The attempts claimed ahead of free slots were never sent: no row is left waiting for a
    # reconciliation, and their contacts are due again.
    assert [a.id for a in attempts(rig) if a.retell_call_id is None] == []
    statuses = Counter(c.status for c in contacts(rig))
    assert statuses[ContactStatus.DIALING] == 0
    assert statuses[ContactStatus.PENDING] == 40 - summary.calls_placed


async def test_a_run_writes_no_more_attempts_ahead_than_it_has_slots(rig: Rig) -> None:
    """Attempts one run holds ahead are contacts the campaign's other runs cannot dial."""
    rig.ingest(rig.campaign(), numbers(40))
    config = rig.campaign("  max_concurrency: 2")
    written_ahead: list[int] = []
    async with rig.client() as client:
        runner = CampaignRunner(
            config=config,
            engine=rig.engine,
            client=client,
            options=FAST,
            # Attempts written ahead and not yet claimed for sending, at the end of every turn.
            on_progress=lambda _: written_ahead.append(unsent_attempts(rig)),
        )
        summary = await runner.run()
    assert summary.calls_placed == 40
    assert 0 < max(written_ahead) <= 2
    assert_exactly_once(rig)


@pytest.mark.parametrize("counts_cost_factor", [0.0, 1e9])
async def test_progress_recounts_the_campaign_only_as_often_as_counting_allows(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, counts_cost_factor: float
) -> None:
    """Counting a large campaign takes seconds on the event loop: the next count waits
    `counts_cost_factor` times as long as the last one took (a huge factor: one count a run)."""
    rig.ingest(rig.campaign(), numbers(40))
    counted: list[int] = []
    real_counts = store.campaigns.counts

    def counting(**kwargs: Any) -> Any:
        counted.append(kwargs["campaign_id"])
        return real_counts(**kwargs)

    monkeypatch.setattr(store.campaigns, "counts", counting)
    options = replace(FAST, status_refresh=0.05, counts_cost_factor=counts_cost_factor)
    async with rig.client() as client:
        runner = CampaignRunner(
            config=rig.campaign(),
            engine=rig.engine,
            client=client,
            options=options,
            on_progress=lambda _: None,
        )
        summary = await runner.run()

    assert summary.calls_placed == 40
    # One count for the run's cost at its start and one for its summary, the rest for progress.
    progress_counts = len(counted) - 2
    assert progress_counts == 1 if counts_cost_factor else progress_counts >= 3


class GarbledFirstCreates(httpx.AsyncBaseTransport):
    """Passes every request to the simulator, but garbles the 2xx answer of the first `count`
    creates: Retell placed those calls, and the client cannot read the answer."""

    def __init__(self, count: int) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._left = count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.url.path == "/v2/create-phone-call" and self._left > 0:
            await response.aread()
            self._left -= 1
            return httpx.Response(response.status_code, content=b"<html>gateway</html>")
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_create_answered_2xx_but_unreadable_is_reconciled_not_placed_again(
    rig: Rig,
) -> None:
    rig.ingest(rig.campaign(), numbers(6))
    client = RetellClient(
        api_key=rig.sim.api_key, base_url=rig.sim.base_url, transport=GarbledFirstCreates(3)
    )
    async with client:
        runner = CampaignRunner(
            config=rig.campaign(), engine=rig.engine, client=client, options=FAST
        )
        summary = await runner.run()
    assert summary.calls_finished == 6
    assert rig.sim.stats()["calls_created"] == 6
    assert_exactly_once(rig)


async def test_transcripts_are_fetched_only_when_the_campaign_asks(rig: Rig) -> None:
    answered = numbers(2, area="718")
    for number in answered:
        order = ForcedOutcome(to_number=number, disconnection_reason="user_hangup")
        rig.sim.call(lambda sim, order=order: sim.force(order))
    rig.ingest(rig.campaign("fetch_transcripts: true"), answered)
    await run(rig, "fetch_transcripts: true")
    assert all(a.transcript for a in attempts(rig))
    requests = rig.sim.stats()["requests_by_endpoint"]
    assert isinstance(requests, dict)
    assert sum(n for endpoint, n in requests.items() if "get-call" in endpoint) == 2


async def test_a_spike_of_failed_dials_pauses_the_campaign(rig: Rig) -> None:
    failing = numbers(15, area="305")
    for number in failing:
        order = ForcedOutcome(to_number=number, disconnection_reason="dial_failed")
        rig.sim.call(lambda sim, order=order: sim.force(order))
    rig.ingest(rig.campaign(), failing)
    summary = await run(rig)
    assert summary.status == "paused"
    assert "failed to connect (dial_failed)" in summary.stop_reason
    assert summary.calls_placed < 15
    assert_exactly_once(rig)


async def test_an_account_error_on_a_call_pauses_the_campaign(rig: Rig) -> None:
    (number,) = numbers(1, area="786")
    order = ForcedOutcome(to_number=number, disconnection_reason="no_valid_payment")
    rig.sim.call(lambda sim: sim.force(order))
    rig.ingest(rig.campaign(), [number])
    summary = await run(rig)
    assert summary.status == "paused"
    assert "account error (no_valid_payment)" in summary.stop_reason


async def test_retells_own_do_not_call_list_is_honoured_and_suppresses(rig: Rig) -> None:
    listed, other = numbers(2, area="347")
    rig.sim.call(lambda sim: sim.add_dnc(listed))
    rig.ingest(rig.campaign(), [listed, other])
    await run(rig)
    by_number = {c.phone_e164: c for c in contacts(rig)}
    assert by_number[listed].final_outcome == OutcomeClass.DNC_REQUEST
    assert by_number[other].final_outcome != OutcomeClass.DNC_REQUEST
    with Session(rig.engine) as session:
        assert set(suppression.reasons(session=session, numbers=[listed, other])) == {listed}
    assert rig.sim.stats()["calls_created"] == 1
