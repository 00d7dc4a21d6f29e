"""ResultSync: which calls a run keeps following, and what it counts as finished."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigner.dialer.reconcile import Reconciler
from campaigner.dialer.sync import AppliedResults, ResultSync
from campaigner.dialer.webhook_inbox import WebhookInbox
from campaigner.retell import Call, CallAnalysis, CallCost, RetellClient
from campaigner.store import CallAttempt, make_engine, upgrade_database
from tests.dialer.fakes import FakeClock
from tests.store.factories import (
    NOW,
    add_contacts,
    campaign_config,
    claim,
    create_attempt,
    make_campaign,
    mark_attempt_sent,
)

CONFIG = campaign_config()
START_MS = int(NOW.timestamp() * 1000)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade_database(engine)
    yield engine
    engine.dispose()


def sent_call(engine: Engine) -> tuple[int, int]:
    """One contact with one attempt whose call `call_1` Retell placed: (attempt id, contact id)."""
    with Session(engine) as session:
        campaign = make_campaign(session, CONFIG.name)
        add_contacts(session, campaign, 1)
        (contact,) = claim(session, campaign)
        attempt = create_attempt(
            session=session,
            contact=contact,
            lease_owner="w1",
            agent_id="agent_abc",
            agent_version=None,
            from_number="+14155550100",
            now=NOW,
        )
        assert attempt.id is not None
        assert contact.id is not None
        mark_attempt_sent(session=session, attempt_id=attempt.id, retell_call_id="call_1")
        return attempt.id, contact.id


def ended(reason: str, status: str = "ended", analysis: CallAnalysis | None = None) -> Call:
    connected = status == "ended"
    return Call(
        call_id="call_1",
        call_status=status,
        metadata={"campaign": CONFIG.name},
        disconnection_reason=reason,
        start_timestamp=START_MS if connected else None,
        end_timestamp=START_MS + 20_000,
        duration_ms=20_000 if connected else 0,
        call_analysis=analysis,
    )


# Never asked anything: apply() only writes to the store.
UNUSED_CLIENT = RetellClient(api_key="key_unused", base_url="http://127.0.0.1:9")


def new_sync(engine: Engine, clock: FakeClock, applied: list[AppliedResults]) -> ResultSync:
    return ResultSync(
        config=CONFIG,
        engine=engine,
        client=UNUSED_CLIENT,
        clock=clock,
        stuck_call_after=900,
        on_applied=applied.append,
    )


def follow(engine: Engine, clock: FakeClock) -> tuple[ResultSync, list[AppliedResults], int]:
    attempt_id, contact_id = sent_call(engine)
    applied: list[AppliedResults] = []
    sync = new_sync(engine, clock, applied)
    sync.follow("call_1", attempt_id=attempt_id, contact_id=contact_id)
    return sync, applied, attempt_id


def taken_over_by_a_later_run(
    engine: Engine, clock: FakeClock, attempt_id: int, applied: list[AppliedResults] | None = None
) -> ResultSync:
    """What a run started now follows of what the earlier run left."""
    with Session(engine) as session:
        attempt = session.get(CallAttempt, attempt_id)
        assert attempt is not None
        campaign_id = attempt.campaign_id

    sync = new_sync(engine, clock, [] if applied is None else applied)
    reconciler = Reconciler(
        config=CONFIG,
        engine=engine,
        client=UNUSED_CLIENT,
        clock=clock,
        sync=sync,
    )
    reconciler.follow_unfinished(campaign_id)
    reconciler.take_over_analyses(campaign_id)
    return sync


def analysed_at(engine: Engine, attempt_id: int) -> object:
    with Session(engine) as session:
        attempt = session.get(CallAttempt, attempt_id)
        assert attempt is not None
        return attempt.analysis_at


@pytest.mark.parametrize("followed_from_its_create", [True, False])
async def test_a_connected_call_settled_at_its_end_is_followed_until_its_analysis(
    engine: Engine, followed_from_its_create: bool
) -> None:
    """A voicemail is decided by its reason, but its summary comes later: a run that stopped
    following the call at its end would end without it. A call the run learns of only at its
    end (a batch task) is followed from there."""
    clock = FakeClock(NOW)
    sync, applied, attempt_id = follow(engine, clock)
    if not followed_from_its_create:
        sync.live.clear()

    sync.apply([ended("voicemail_reached")])
    assert (applied[-1].finished, sync.in_progress(), list(sync.live)) == (1, 0, ["call_1"])
    assert sync.live["call_1"].attempt_id == attempt_id

    sync.apply([ended("voicemail_reached", analysis=CallAnalysis(call_summary="Left a message"))])
    assert (applied[-1].finished, sync.live) == (0, {})
    assert analysed_at(engine, attempt_id) is not None


async def test_a_call_end_delivered_again_after_its_analysis_is_not_followed_again(
    engine: Engine,
) -> None:
    """Retell repeats a `call_ended` delivery after `call_analyzed` was applied."""
    sync, applied, _ = follow(engine, FakeClock(NOW))
    sync.apply([ended("voicemail_reached", analysis=CallAnalysis(call_summary="Left a message"))])
    assert sync.live == {}

    sync.apply([ended("voicemail_reached")])

    assert (applied[-1].finished, sync.live) == (0, {})


async def test_a_call_nobody_followed_that_ended_with_its_analysis_is_not_followed(
    engine: Engine,
) -> None:
    sync, applied, _ = follow(engine, FakeClock(NOW))
    sync.live.clear()
    sync.apply([ended("voicemail_reached", analysis=CallAnalysis(call_summary="Left a message"))])
    assert (applied[-1].finished, sync.live) == (1, {})


async def test_a_call_that_never_connected_is_not_followed_after_its_end(engine: Engine) -> None:
    sync, applied, _ = follow(engine, FakeClock(NOW))
    sync.apply([ended("dial_no_answer", status="not_connected")])
    assert (applied[-1].finished, sync.live) == (1, {})


async def test_an_analysis_that_does_not_come_is_waited_for_only_until_the_timeout(
    engine: Engine,
) -> None:
    clock = FakeClock(NOW)
    sync, applied, attempt_id = follow(engine, clock)
    sync.apply([ended("voicemail_reached")])
    clock.advance(CONFIG.analysis_timeout.total_seconds() - 1)
    sync.apply([ended("voicemail_reached")])
    assert list(sync.live) == ["call_1"]

    clock.advance(1)
    sync.apply([ended("voicemail_reached")])
    assert ([batch.finished for batch in applied], sync.live) == ([1, 0, 0], {})
    assert analysed_at(engine, attempt_id) is None


@pytest.mark.parametrize("followed_from_its_create", [True, False])
async def test_a_call_waiting_for_its_analysis_is_let_go_at_the_timeout_without_a_view(
    engine: Engine, followed_from_its_create: bool
) -> None:
    """Retell unreachable for longer than `analysis_timeout`: the run must still end, whether it
    followed the call from its create or only from its end (a batch task)."""
    clock = FakeClock(NOW)
    sync, _, _ = follow(engine, clock)
    if not followed_from_its_create:
        sync.live.clear()
    sync.apply([ended("voicemail_reached")])
    assert list(sync.live) == ["call_1"]
    clock.advance(CONFIG.analysis_timeout.total_seconds())

    await sync.poll()  # nothing is left to ask for: no request goes out (none could be answered)

    assert sync.live == {}


async def test_a_call_settled_by_a_webhook_then_adopted_is_counted_finished_once(
    engine: Engine,
) -> None:
    """A create whose answer was lost: the call's end arrives by webhook (found by its metadata)
    before reconciling adopts the call, which must not count it again."""
    sync, applied, attempt_id = follow(engine, FakeClock(NOW))
    sync.live.clear()  # the run does not know the call: the create's answer was lost
    call = ended("dial_no_answer", status="not_connected")
    call.call_cost = CallCost(combined_cost=12.5)
    sync.apply([call])

    sync.follow("call_1", attempt_id=attempt_id, contact_id=1, outcome_known=True)
    sync.apply([call])

    assert [batch.finished for batch in applied] == [1, 0]
    # The budget counts the call's cost once too.
    assert [batch.cost_cents for batch in applied] == [12.5, 0.0]
    assert sync.live == {}


async def test_a_later_run_follows_a_settled_call_whose_analysis_had_not_come(
    engine: Engine,
) -> None:
    """The run that settled a voicemail stopped (killed, say) before its summary came."""
    clock = FakeClock(NOW)
    first, _, attempt_id = follow(engine, clock)
    first.apply([ended("voicemail_reached")])
    clock.advance(60)

    applied: list[AppliedResults] = []
    later = taken_over_by_a_later_run(engine, clock, attempt_id, applied)
    assert (list(later.live), later.in_progress()) == (["call_1"], 0)

    analysed = ended("voicemail_reached", analysis=CallAnalysis(call_summary="Left a message"))
    analysed.call_cost = CallCost(combined_cost=12.5)
    later.apply([analysed])
    assert later.live == {}
    # Settled and paid for by the first run: not counted again.
    assert [(batch.finished, batch.cost_cents) for batch in applied] == [(0, 0.0)]
    assert analysed_at(engine, attempt_id) is not None


async def test_a_later_run_does_not_follow_a_call_past_its_analysis_timeout(
    engine: Engine,
) -> None:
    clock = FakeClock(NOW)
    first, _, attempt_id = follow(engine, clock)
    first.apply([ended("voicemail_reached")])
    clock.advance(20 + CONFIG.analysis_timeout.total_seconds())  # the call ended at NOW + 20 s

    assert taken_over_by_a_later_run(engine, clock, attempt_id).live == {}


def test_pushed_calls_are_ours_by_their_campaign_whatever_else_metadata_holds(
    engine: Engine,
) -> None:
    sync, _, _ = follow(engine, FakeClock())
    inbox = WebhookInbox(webhook_api_key=SecretStr("key_unused"))
    ours = ended("user_hangup").model_copy(
        update={"metadata": {"campaign": CONFIG.name, "score": 0.5, "tags": ["vip"]}}
    )
    strangers = [
        ours.model_copy(update={"call_id": f"call_x{n}", "metadata": metadata})
        for n, metadata in enumerate([["campaign", CONFIG.name], CONFIG.name, {"campaign": 7}])
    ]
    for call in [*strangers, ours]:
        inbox.calls.put_nowait(call)

    sync.take_pushed(inbox)

    assert [call.call_id for call in sync.pushed] == ["call_1"]
