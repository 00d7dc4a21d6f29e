"""Batch mode against the simulator's server-side batches, over real HTTP, with a real store.

The runner reads wall time from the simulator's virtual clock (`SimulatorClock`), so calling
windows, triggers and retry delays follow the simulated day.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session, select

from campaigner import store
from campaigner.campaign import CampaignConfig, OutcomeClass, parse_campaign
from campaigner.dialer.batching import UNDIALED_TASK_GRACE, BatchDialer, BatchOptions
from campaigner.dialer.breakers import Breakers
from campaigner.dialer.runner import CampaignRunner, RunOptions, RunSummary
from campaigner.dialer.sync import AppliedResults, ResultSync
from campaigner.retell import RetellClient
from campaigner.store import (
    AttemptState,
    BatchState,
    BatchSubmission,
    CallAttempt,
    Contact,
    ContactStatus,
    RunLease,
    campaigns,
    suppression,
)
from retell_sim import OutcomeModel, Simulator, SimulatorConfig
from tests.dialer.conftest import CAMPAIGN_YAML, Rig, numbers
from tests.dialer.fakes import FakeClock, SimulatorClock
from tests.store.factories import lease_into_batch

FAST = RunOptions(
    poll_interval=0.05,
    concurrency_refresh=0.5,
    reconcile_interval=0.1,
    max_reconcile_rounds=60,
    batch=BatchOptions(submit_interval=0.05, lost_batch_grace=0.3),
)
ANSWERED = OutcomeModel.everyone_answers(ring_answer_s=(1.0, 2.0), conversation_median_s=60)
BATCH = "mode: batch\nbatch: {{size: {size}, reserved_concurrency: {reserved}}}\n"


def _next_monday_1330_utc() -> datetime:
    """A Monday 13:30 UTC after today: contacts imported now are due by then (on virtual time)."""
    today = datetime.now(UTC).date()
    monday = today + timedelta(days=7 - today.weekday())
    return datetime.combine(monday, time(13, 30), tzinfo=UTC)


MONDAY_1330_UTC = _next_monday_1330_utc()
T = TypeVar("T", BatchSubmission, CallAttempt, Contact)


async def run(rig: Rig, config: CampaignConfig, options: RunOptions = FAST) -> RunSummary:
    async with rig.client() as client:
        runner = CampaignRunner(
            config=config,
            engine=rig.engine,
            client=client,
            clock=SimulatorClock(rig.sim),
            options=options,
        )
        return await runner.run()


async def run_until_done(rig: Rig, config: CampaignConfig, runs: int = 40) -> None:
    """Run again (as cron would) until every contact is settled for good."""
    for _ in range(runs):
        await run(rig, config)
        if all(c.status == ContactStatus.DONE for c in rows(rig, Contact)):
            return
    raise AssertionError(f"contacts left: {Counter(c.status for c in rows(rig, Contact))}")


def record_unsent_batch(rig: Rig, config: CampaignConfig, owner: str) -> int:
    """Four contacts in a batch `owner` recorded and has not sent (yet); the campaign's id."""
    rig.ingest(config, numbers(4))
    with Session(rig.engine) as session:
        campaign = campaigns.upsert(session=session, config=config)
        session.commit()
        assert campaign.id is not None
        lease_into_batch(session, campaign.id, now=datetime.now(UTC), lease_owner=owner)
        return campaign.id


def batch_dialer(
    rig: Rig,
    config: CampaignConfig,
    client: RetellClient,
    clock: FakeClock,
    *,
    options: BatchOptions | None = None,
    on_applied: Callable[[AppliedResults], None] = lambda applied: None,
) -> BatchDialer:
    """A batch dialer on its own, as a run would make it, on a clock the test moves."""
    sync = ResultSync(
        config=config,
        engine=rig.engine,
        client=client,
        clock=clock,
        stuck_call_after=600,
        on_applied=on_applied,
    )
    return BatchDialer(
        config=config,
        engine=rig.engine,
        client=client,
        clock=clock,
        sync=sync,
        lease_owner="test-run",
        lease_seconds=300,
        breakers=Breakers(
            budget_cents=None, spent_cents=0.0, dial_failed_window=20, dial_failed_trip=10
        ),
        options=options,
    )


def rows(rig: Rig, model: type[T]) -> list[T]:
    with Session(rig.engine) as session:
        return list(session.exec(select(model)))


def simulated_batches(rig: Rig) -> list[dict[str, Any]]:
    def read(sim: Simulator) -> list[dict[str, Any]]:
        return [batch.response() for batch in sim.batches.batches.values()]

    return rig.sim.call(read)


def assert_every_task_sent_once(rig: Rig) -> None:
    """Retell's own record: each task in one batch only, each call on exactly one attempt."""
    placed = [a.retell_call_id for a in rows(rig, CallAttempt) if a.retell_call_id]
    assert len(placed) == len(set(placed))
    assert rig.sim.stats()["calls_created"] == len(placed)
    sent = [b for b in rows(rig, BatchSubmission) if b.state == BatchState.SENT]
    assert sum(b["total_task_count"] for b in simulated_batches(rig)) == len(placed)
    assert len(simulated_batches(rig)) == len(sent)


ZONES_CAMPAIGN = """
name: zones
agent: {agent_id: agent_campaigner_demo}
from_numbers: ["+14155550100"]
columns: {phone: phone, dynamic_variables: {first_name: first_name}}
window: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
caps: {calls_per_second: 100, max_calls_per_number_per_24h: 10}
mode: batch
batch: {size: 10}
"""
AREAS = {"212": "America/New_York", "312": "America/Chicago", "310": "America/Los_Angeles"}


@pytest.mark.parametrize(
    "sim_config",
    [
        SimulatorConfig(
            speed=0,
            start_ms=int(MONDAY_1330_UTC.timestamp() * 1000),
            concurrency_limit=10,
            cps=100,
            seed=3,
            analysis_delay_s=2,
            outcomes=ANSWERED,
        )
    ],
)
async def test_batches_per_zone_start_at_their_window_and_the_run_can_go_offline(
    rig: Rig,
) -> None:
    config = parse_campaign(ZONES_CAMPAIGN)
    rig.ingest(config, [n for area in AREAS for n in numbers(4, area=area)])

    first = await run(rig, config)

    # 08:30 in New York, 07:30 in Chicago, 05:30 in Los Angeles: every batch waits at Retell.
    assert "3 batches wait at Retell" in first.stop_reason
    assert first.calls_placed == 12
    batches = {b.timezone: b for b in rows(rig, BatchSubmission)}
    assert set(batches) == set(AREAS.values())
    for zone, batch in batches.items():
        assert batch.trigger_at is not None
        opening = batch.trigger_at.astimezone(ZoneInfo(zone))
        assert (opening.date(), opening.hour, opening.minute) == (MONDAY_1330_UTC.date(), 9, 0)
    simulated = {b["call_time_window"]["timezone"]: b for b in simulated_batches(rig)}
    for zone, batch in batches.items():
        assert batch.trigger_at is not None
        assert simulated[zone]["scheduled_timestamp"] == batch.trigger_at.timestamp() * 1000
        assert simulated[zone]["call_time_window"]["windows"] == [{"start": 540, "end": 1020}]
    assert rig.sim.stats()["calls_created"] == 0

    rig.sim.advance(8 * 3600)  # Retell dials on its own meanwhile
    second = await run(rig, config)

    assert second.stop_reason == "nothing is due now"
    assert all(c.status == ContactStatus.DONE for c in rows(rig, Contact))
    zone_of = {c.id: AREAS[c.phone_e164[2:5]] for c in rows(rig, Contact)}
    for attempt in rows(rig, CallAttempt):
        assert attempt.finalized
        assert attempt.start_timestamp is not None
        local = attempt.start_timestamp.astimezone(ZoneInfo(zone_of[attempt.contact_id]))
        assert 9 <= local.hour < 17
    assert_every_task_sent_once(rig)


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(speed=400, concurrency_limit=5, cps=100, seed=4, outcomes=ANSWERED)],
)
async def test_reserved_concurrency_is_left_free(rig: Rig) -> None:
    config = rig.campaign(BATCH.format(size=10, reserved=2))
    rig.ingest(config, numbers(20))

    await run_until_done(rig, config)

    assert rig.sim.stats()["peak_concurrency"] == 3
    assert len(rows(rig, BatchSubmission)) == 2
    assert_every_task_sent_once(rig)


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(speed=400, concurrency_limit=5, cps=100, seed=6, analysis_delay_s=60)],
)
async def test_an_analysis_that_comes_after_the_batch_is_final_is_collected(rig: Rig) -> None:
    """Voicemails settle their contacts at the call's end; their summaries come a minute
    later, after the batch has nothing left to dial."""
    voicemails = numbers(4, area="646")
    for number in voicemails:
        rig.force(number, "voicemail_reached")
    config = rig.campaign(BATCH.format(size=4, reserved=0))
    rig.ingest(config, voicemails)

    await run(rig, config)

    attempts = rows(rig, CallAttempt)
    assert [a.outcome_class for a in attempts] == [OutcomeClass.VOICEMAIL] * 4
    assert all(a.analysis_at is not None and a.call_summary for a in attempts)


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(speed=400, concurrency_limit=5, cps=100, seed=5, outcomes=ANSWERED)],
)
async def test_outcomes_drive_follow_up_batches_and_dnc_suppresses(rig: Rig) -> None:
    busy, dnc, success = numbers(3, area="646")
    rig.force(busy, "dial_busy")
    rig.force(dnc, "user_requested_dnc")
    rig.force(success, "agent_hangup", successful=True)
    config = rig.campaign(BATCH.format(size=4, reserved=0) + "retry: {busy: {delay: 2m}}")
    others = numbers(5, area="917")
    rig.ingest(config, [busy, dnc, success, *others])

    await run_until_done(rig, config)

    by_number = {c.phone_e164: c for c in rows(rig, Contact)}
    assert by_number[busy].attempts_made == 3  # caps.max_attempts_per_contact
    assert by_number[busy].final_outcome == OutcomeClass.BUSY
    assert by_number[dnc].final_outcome == OutcomeClass.DNC_REQUEST
    assert by_number[success].final_outcome == OutcomeClass.SUCCESS
    with Session(rig.engine) as session:
        assert set(suppression.reasons(session=session, numbers=by_number)) == {dnc}
    busy_batches = [a.batch_id for a in rows(rig, CallAttempt) if a.to_number == busy]
    assert len(set(busy_batches)) == 3  # each retry went out in a follow-up batch
    assert all(a.batch_id is not None and a.finalized for a in rows(rig, CallAttempt))
    assert_every_task_sent_once(rig)


@pytest.mark.parametrize(
    "sim_config",
    [
        SimulatorConfig(
            speed=400,
            concurrency_limit=5,
            cps=100,
            seed=6,
            outcomes=ANSWERED,
            # Every create answer is lost or a 5xx (0.15 + 0.85): ten batches all drawing 5xx is
            # 0.15**10, so the lost-answer path is always taken.
            faults="5xx=0.15,lost_create=0.85",
        )
    ],
)
async def test_lost_batch_answers_are_reconciled_without_a_second_batch(rig: Rig) -> None:
    config = rig.campaign(BATCH.format(size=3, reserved=0))
    rig.ingest(config, numbers(30))

    await run_until_done(rig, config)

    faults = rig.sim.stats()["faults_injected"]
    assert isinstance(faults, dict)
    assert faults.get("lost_create", 0) > 0
    assert_every_task_sent_once(rig)
    assert rig.sim.stats()["calls_created"] == 30
    states = Counter(b.state for b in rows(rig, BatchSubmission))
    assert states[BatchState.SENT] == len(simulated_batches(rig))
    assert not {BatchState.AMBIGUOUS, BatchState.PENDING_SEND} & set(states)
    adopted = [
        b
        for b in rows(rig, BatchSubmission)
        if b.state == BatchState.SENT and not b.retell_batch_id
    ]
    assert adopted, "a batch whose answer was lost is found by its calls' metadata"


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(speed=400, concurrency_limit=5, cps=100, seed=7, outcomes=ANSWERED)],
)
async def test_a_batch_recorded_by_a_run_that_died_before_sending_it_goes_out_once(
    rig: Rig,
) -> None:
    config = rig.campaign(BATCH.format(size=10, reserved=0))
    record_unsent_batch(rig, config, owner="dead-run")

    await run_until_done(rig, config)

    first, *later = rows(rig, BatchSubmission)
    assert first.state == BatchState.FAILED  # given up once Retell had had room to dial it
    assert {b.state for b in later} == {BatchState.SENT}  # one per variant
    assert sum(b["total_task_count"] for b in simulated_batches(rig)) == 4
    assert_every_task_sent_once(rig)


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(speed=400, concurrency_limit=5, cps=100, seed=7, outcomes=ANSWERED)],
)
async def test_a_batch_of_a_live_run_is_left_to_it(rig: Rig) -> None:
    """Its create-batch-call may still be in flight: giving it back could dial its tasks twice."""
    config = rig.campaign(BATCH.format(size=10, reserved=0))
    campaign_id = record_unsent_batch(rig, config, owner="live-run")
    with Session(rig.engine) as session:
        expires_at = datetime.now(UTC) + timedelta(days=30)
        session.add(RunLease(owner="live-run", campaign_id=campaign_id, expires_at=expires_at))
        session.commit()

    await run(rig, config)

    (batch,) = rows(rig, BatchSubmission)
    assert batch.state == BatchState.PENDING_SEND
    assert {c.status for c in rows(rig, Contact)} == {ContactStatus.DIALING}
    assert simulated_batches(rig) == []


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(speed=400, concurrency_limit=5, cps=100, seed=7, outcomes=ANSWERED)],
)
async def test_a_refusal_that_pauses_stops_the_batches_still_to_send(rig: Rig) -> None:
    """One batch per variant; Retell knows neither agent: the first refusal pauses, and the
    second batch is not sent to a paused campaign."""
    text = CAMPAIGN_YAML.format(name="t", extra="") + BATCH.format(size=10, reserved=0)
    config = parse_campaign(text.replace("agent_campaigner_demo", "agent_deleted"))
    rig.ingest(config, numbers(6))

    summary = await run(rig, config)

    assert summary.status == "paused"
    requests = rig.sim.stats()["requests_by_endpoint"]
    assert isinstance(requests, dict)
    assert sum(n for path, n in requests.items() if "create-batch-call" in path) == 1
    # The refused batch's contacts wait for a retry; the unsent one's are pending again.
    assert {c.status for c in rows(rig, Contact)} == {
        ContactStatus.WAITING_RETRY,
        ContactStatus.PENDING,
    }


async def test_a_batch_that_waited_for_its_trigger_is_not_taken_for_stalled_when_it_opens(
    rig: Rig,
) -> None:
    """The stall clock of a batch runs only while Retell may dial it."""
    config = rig.campaign(BATCH.format(size=10, reserved=0))
    rig.ingest(config, numbers(3))
    clock = FakeClock(MONDAY_1330_UTC)
    with Session(rig.engine) as session:
        campaign_id = campaigns.upsert(session=session, config=config).id
        session.commit()
        assert campaign_id is not None
        batch_id = lease_into_batch(
            session, campaign_id, now=clock.now(), trigger_at=clock.now() + timedelta(minutes=8)
        )[0].id
        assert batch_id is not None
        store.batches.mark_sent(
            session=session, batch_id=batch_id, retell_batch_id="batch_call_waiting"
        )
        session.commit()
    async with rig.client() as client:
        dialer = batch_dialer(rig, config, client, clock, options=BatchOptions(stalled_after=150))
        dialer.start(campaign_id)
        dialer.take_over()
        for _ in range(8):  # eight minutes waiting for the trigger: within the window gap
            assert dialer.dialing(clock.now()) == 1
            clock.advance(60)
        assert dialer.dialing(clock.now()) == 1  # the trigger is now: dialing
        clock.advance(60)
        assert dialer.dialing(clock.now()) == 1  # last seen waiting 120 s ago
        clock.advance(31)
        assert dialer.dialing(clock.now()) == 0  # no call finished in over 150 s of dialing


NEW_YORK = ZoneInfo("America/New_York")
TEN_TO_ELEVEN_IN_NEW_YORK = {"windows": [{"start": 600, "end": 660}], "timezone": NEW_YORK.key}
# The Monday after today (contacts imported now are due by then), in New York's own hours.
BEFORE_THE_WINDOW = datetime.combine(MONDAY_1330_UTC.date(), time(9), tzinfo=NEW_YORK)
WINDOW_OPENS = datetime.combine(MONDAY_1330_UTC.date(), time(10), tzinfo=NEW_YORK)
WINDOW_CLOSES = datetime.combine(MONDAY_1330_UTC.date(), time(11), tzinfo=NEW_YORK)


def fake_retell(listed: ListedCalls) -> RetellClient:
    return RetellClient(
        api_key="key_test", base_url="http://retell.test", transport=httpx.MockTransport(listed)
    )


class ListedCalls:
    """Retell's list-calls, faked: every request is answered with the calls in `finished`, and
    its filter is kept."""

    def __init__(self) -> None:
        self.finished: list[dict[str, Any]] = []
        self.filters: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v3/list-calls"
        criteria = json.loads(request.content)["filter_criteria"]
        self.filters.append(criteria)
        items = self.finished
        if "end_timestamp" in criteria:
            # As Retell filters: a call without the field matches no range on it.
            since = criteria["end_timestamp"]["value"]
            items = [call for call in items if call.get("end_timestamp", since - 1) >= since]
        return httpx.Response(200, json={"items": items, "has_more": False})


def sent_batch_of_three(rig: Rig, config: CampaignConfig) -> tuple[int, list[CallAttempt]]:
    """Three contacts in one batch Retell has, with a window from 10:00 to 11:00 in New York,
    sent before it opens: the campaign's id and the batch's attempts."""
    rig.ingest(config, numbers(3))
    with Session(rig.engine) as session:
        campaign_id = campaigns.upsert(session=session, config=config).id
        session.commit()
        assert campaign_id is not None
        batch, attempts = lease_into_batch(
            session,
            campaign_id,
            now=BEFORE_THE_WINDOW,
            call_time_window=TEN_TO_ELEVEN_IN_NEW_YORK,
        )
        assert batch.id is not None
        store.batches.mark_sent(
            session=session,
            batch_id=batch.id,
            retell_batch_id="batch_call_quiet",
            sent_at=BEFORE_THE_WINDOW,
        )
        session.commit()
        return campaign_id, attempts


def advance_to(clock: FakeClock, moment: datetime) -> None:
    clock.advance((moment - clock.now()).total_seconds())


def settled(rig: Rig) -> list[int]:
    return [attempt.id or 0 for attempt in rows(rig, CallAttempt) if attempt.finalized]


async def test_tasks_retell_never_dials_expire_once_the_window_has_been_shut_for_the_grace(
    rig: Rig,
) -> None:
    config = rig.campaign(BATCH.format(size=10, reserved=0))
    campaign_id, attempts = sent_batch_of_three(rig, config)
    clock = FakeClock(BEFORE_THE_WINDOW)
    listed = ListedCalls()
    async with fake_retell(listed) as client:
        dialer = batch_dialer(rig, config, client, clock)
        dialer.start(campaign_id)
        await dialer.collect()
        advance_to(clock, WINDOW_CLOSES + UNDIALED_TASK_GRACE - timedelta(seconds=1))
        await dialer.collect()
        assert settled(rig) == []
        clock.advance(1)
        await dialer.collect()

    assert sorted(settled(rig)) == sorted(attempt.id or 0 for attempt in attempts)
    assert {(a.state, a.outcome_class) for a in rows(rig, CallAttempt)} == {
        (AttemptState.ERROR, OutcomeClass.TRANSIENT_FAILURE)
    }
    # Blameless: not counted, and due again at once.
    assert {(c.status, c.attempts_made) for c in rows(rig, Contact)} == {
        (ContactStatus.WAITING_RETRY, 0)
    }
    assert dialer.waiting() == 0


def batch_call(
    config: CampaignConfig, attempt_id: int | None, status: str, reason: str, **fields: Any
) -> dict[str, Any]:
    """A finished call of a task, as list-calls gives it."""
    metadata = {"campaign": config.name, "attempt": str(attempt_id)}
    return {
        "call_id": f"call_{attempt_id}",
        "call_status": status,
        "disconnection_reason": reason,
        "metadata": metadata,
        **fields,
    }


async def test_calls_without_an_end_timestamp_settle_and_a_batch_that_dialed_is_not_expired(
    rig: Rig,
) -> None:
    """A call that never connected need not carry `end_timestamp`: it is swept all the same,
    also after calls that had one. A batch Retell dialed in its last opening is not expired
    (Retell may go on with it in the next one), not by a later run either; after one whole
    opening without a call, it is."""
    config = rig.campaign(BATCH.format(size=10, reserved=0))
    campaign_id, attempts = sent_batch_of_three(rig, config)
    answered_id, unanswered_id, never_dialed_id = (attempt.id or 0 for attempt in attempts)
    ended_ms = int((WINDOW_OPENS + timedelta(minutes=20)).timestamp() * 1000)
    answered = batch_call(
        config,
        answered_id,
        "ended",
        "user_hangup",
        start_timestamp=ended_ms - 60_000,
        end_timestamp=ended_ms,
        call_analysis={"call_successful": True},
    )
    unanswered = batch_call(config, unanswered_id, "not_connected", "dial_no_answer")
    clock = FakeClock(BEFORE_THE_WINDOW)
    listed = ListedCalls()
    applied: list[AppliedResults] = []
    async with fake_retell(listed) as client:
        dialer = batch_dialer(rig, config, client, clock, on_applied=applied.append)
        dialer.start(campaign_id)
        advance_to(clock, WINDOW_OPENS + timedelta(minutes=30))
        listed.finished = [answered]
        await dialer.collect()
        clock.advance(60)
        listed.finished = [answered, unanswered]
        await dialer.collect()
        assert sorted(settled(rig)) == sorted([answered_id, unanswered_id])
        await dialer.collect()
        assert len(applied) == 2  # each view once: the same view again is not applied again

        advance_to(clock, WINDOW_CLOSES + UNDIALED_TASK_GRACE)
        later_run = batch_dialer(rig, config, client, clock)
        later_run.start(campaign_id)
        await later_run.collect()
        assert never_dialed_id not in settled(rig)
        advance_to(clock, WINDOW_CLOSES + UNDIALED_TASK_GRACE + timedelta(days=1))
        await later_run.collect()

    outcomes = {attempt.id: attempt.outcome_class for attempt in rows(rig, CallAttempt)}
    assert outcomes == {
        answered_id: OutcomeClass.SUCCESS,
        unanswered_id: OutcomeClass.NO_ANSWER,
        never_dialed_id: OutcomeClass.TRANSIENT_FAILURE,
    }
    assert {criteria["batch_call_id"]["value"] for criteria in listed.filters} == {
        "batch_call_quiet"
    }


async def test_a_task_the_run_saw_settle_keeps_a_batch_from_expiring_without_any_call_time(
    rig: Rig,
) -> None:
    """A call that never connected may come with no time at all: that the run saw it settle in
    the opening is what says Retell was dialing."""
    config = rig.campaign(BATCH.format(size=10, reserved=0))
    campaign_id, attempts = sent_batch_of_three(rig, config)
    clock = FakeClock(BEFORE_THE_WINDOW)
    listed = ListedCalls()
    async with fake_retell(listed) as client:
        dialer = batch_dialer(rig, config, client, clock)
        dialer.start(campaign_id)
        await dialer.collect()
        advance_to(clock, WINDOW_OPENS + timedelta(minutes=30))
        listed.finished = [batch_call(config, attempts[0].id, "not_connected", "dial_busy")]
        await dialer.collect()
        advance_to(clock, WINDOW_CLOSES + UNDIALED_TASK_GRACE)
        await dialer.collect()

    assert settled(rig) == [attempts[0].id]


@pytest.mark.parametrize(
    # One call at a time: the unanswered calls end after the answered ones were collected.
    "sim_config",
    [
        SimulatorConfig(
            speed=400,
            concurrency_limit=1,
            cps=100,
            seed=5,
            outcomes=ANSWERED,
            batch_failure_timestamps="none",
        )
    ],
)
async def test_a_batch_whose_unanswered_calls_have_no_end_timestamp_settles_every_task(
    rig: Rig,
) -> None:
    """Retell does not say that calls which never connected carry timestamps: here the
    unanswered ones come without, after answered ones that had them. They settle all the same."""
    config = rig.campaign(BATCH.format(size=10, reserved=0))
    phones = numbers(8)
    rig.ingest(config, phones)
    for phone in phones[5:]:  # dialed last
        rig.force(phone, "dial_no_answer")
    # A batch with no call settled for two seconds (minutes of the simulator's time) is not
    # waited on: without this, a task never settled would hold the run for 15 minutes.
    options = replace(FAST, batch=replace(FAST.batch, stalled_after=2.0))
    async with rig.client() as client:
        runner = CampaignRunner(
            config=config,
            engine=rig.engine,
            client=client,
            clock=SimulatorClock(rig.sim),
            options=options,
        )
        await runner.run()

    outcomes = Counter(attempt.outcome_class for attempt in rows(rig, CallAttempt))
    assert outcomes[OutcomeClass.NO_ANSWER] == 3
    assert outcomes[None] == 0
    assert ContactStatus.DIALING not in {contact.status for contact in rows(rig, Contact)}
