"""The dialer's queries: claims, attempts written before the request, call results, caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from campaigner import store
from campaigner.campaign import OutcomeClass
from campaigner.store import (
    AttemptPlan,
    AttemptState,
    CallAttempt,
    CampaignStatus,
    Contact,
    ContactStatus,
    LeaseLost,
    Settlement,
    StoreError,
    attempts,
    campaigns,
    claims,
    results,
    session_factory,
    suppression,
)
from tests.store.factories import (
    NOW,
    add_contacts,
    claim,
    finalize_attempt,
    make_campaign,
    mark_attempt_sent,
    number,
    record_call_result,
    settle_contact,
    write_attempt,
)

dial = write_attempt


def phones(contacts: list[Contact]) -> list[str]:
    return [contact.phone_e164 for contact in contacts]


# --- claiming -------------------------------------------------------------------------------------


def test_claim_takes_due_contacts_in_order_and_leases_them(session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 5)

    claimed = claim(session, campaign, limit=3)

    assert phones(claimed) == [number(0), number(1), number(2)]
    assert all(c.lease_owner == "w1" for c in claimed)
    assert all(c.lease_expires_at == NOW + timedelta(seconds=60) for c in claimed)
    assert phones(claim(session, campaign, owner="w2")) == [number(3), number(4)]
    assert claim(session, campaign, owner="w3") == []


def test_a_lease_that_expired_can_be_claimed_again(session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 1)
    claim(session, campaign)

    again = claim(session, campaign, owner="w2", now=NOW + timedelta(seconds=61))

    assert [c.lease_owner for c in again] == ["w2"]


def test_claim_skips_suppressed_numbers_future_retries_and_other_campaigns(
    session: Session,
) -> None:
    campaign = make_campaign(session)
    other = make_campaign(session, "other")
    add_contacts(session, campaign, 4)
    add_contacts(session, other, 2, start=100)
    suppression.add(session=session, entries=[(number(1), "dnc", "test")])
    session.exec(
        sa.update(Contact)
        .where(col(Contact.phone_e164) == number(2))
        .values(status=ContactStatus.WAITING_RETRY, next_attempt_at=NOW + timedelta(hours=1))
    )
    session.exec(
        sa.update(Contact)
        .where(col(Contact.phone_e164) == number(3))
        .values(status=ContactStatus.WAITING_RETRY, next_attempt_at=NOW - timedelta(minutes=1))
    )
    session.commit()

    assert phones(claim(session, campaign)) == [number(3), number(0)]  # longest due first
    # Two hours on, the retry is due and the first claim's leases have expired.
    later = claim(session, campaign, now=NOW + timedelta(hours=2))
    assert phones(later) == [number(3), number(0), number(2)]


def test_claim_filters_by_candidate_timezone_sets(session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 2)
    add_contacts(session, campaign, 2, start=10, timezones=["America/Denver", "America/Phoenix"])
    add_contacts(session, campaign, 1, start=20, timezones=["America/Los_Angeles"])

    sets = claims.zone_sets(session=session, campaign_id=campaign.id or 0)
    mountain = claim(session, campaign, timezones=[("America/Phoenix", "America/Denver")])

    assert sets == [
        ("America/Denver", "America/Phoenix"),
        ("America/Los_Angeles",),
        ("America/New_York",),
    ]
    assert phones(mountain) == [number(10), number(11)]
    assert claim(session, campaign, timezones=[]) == []
    with pytest.raises(TypeError, match="collection of zone sets"):
        claim(session, campaign, timezones=["America/New_York"])


def test_count_due_counts_what_a_claim_would_lease(session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 3)
    add_contacts(session, campaign, 2, start=10, timezones=["America/Denver"])
    suppression.add(session=session, entries=[(number(1), "dnc", "test")])
    session.commit()
    eastern, mountain = [("America/New_York",)], [("America/Denver",)]

    def count_due(timezones: list[tuple[str, ...]], at_most: int | None = None) -> int:
        return claims.count_due(
            session=session,
            campaign_id=campaign.id or 0,
            now=NOW,
            timezones=timezones,
            at_most=at_most,
        )

    assert (count_due(eastern), count_due(mountain), count_due(eastern + mountain)) == (2, 2, 4)
    assert count_due(eastern + mountain, at_most=1) == 1
    assert count_due([]) == 0
    claim(session, campaign, timezones=mountain)
    assert count_due(eastern + mountain) == 2  # the leased ones are not due to anyone else


def test_claim_skips_numbers_in_a_live_call_in_any_campaign(session: Session) -> None:
    campaign = make_campaign(session)
    other = make_campaign(session, "other")
    add_contacts(session, campaign, 2)
    add_contacts(session, other, 1)  # number(0) again, in another campaign
    (in_other,) = claim(session, other)
    attempt = dial(session, in_other)
    mark_attempt_sent(session=session, attempt_id=attempt.id or 0, retell_call_id="call_live")

    assert phones(claim(session, campaign)) == [number(1)]


def test_released_contacts_can_be_deferred(session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 2)
    claimed = claim(session, campaign)
    ids = [c.id or 0 for c in claimed]

    wrong_owner = claims.release(session=session, contact_ids=ids, lease_owner="w2")
    released = claims.release(
        session=session,
        contact_ids=ids[:1],
        lease_owner="w1",
        next_attempt_at=NOW + timedelta(hours=3),
    )
    session.commit()

    assert (wrong_owner, released) == (0, 1)
    assert phones(claim(session, campaign, owner="w2")) == []  # one deferred, one still leased
    # Both due by then; the one due all along comes first.
    assert phones(claim(session, campaign, owner="w2", now=NOW + timedelta(hours=3))) == [
        number(1),
        number(0),
    ]


# --- attempts -------------------------------------------------------------------------------------


def test_an_attempt_is_committed_before_the_request_with_a_fresh_key(session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 2)
    first, second = claim(session, campaign)

    attempt = dial(session, first)
    other = dial(session, second)
    session.rollback()  # a later failure cannot undo what create_attempt committed

    stored = session.exec(select(CallAttempt).order_by(col(CallAttempt.id))).all()
    assert [a.id for a in stored] == [attempt.id, other.id]
    assert attempt.attempt_number == 1
    assert attempt.state == AttemptState.PENDING_SEND
    assert attempt.to_number == number(0)
    assert attempt.idempotency_key.startswith("campaigner-")
    assert attempt.idempotency_key != other.idempotency_key
    assert first.status == ContactStatus.DIALING
    assert first.lease_owner is None


def test_attempt_numbers_count_up_per_contact(session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 1)
    (contact,) = claim(session, campaign)
    first = dial(session, contact)
    mark_attempt_sent(session=session, attempt_id=first.id or 0, retell_call_id="call_1")
    no_answer = {"call_id": "call_1", "call_status": "not_connected"}
    record_call_result(session=session, call=no_answer, outcome_class=OutcomeClass.NO_ANSWER)
    settle_contact(
        session=session,
        contact_id=contact.id or 0,
        outcome=OutcomeClass.NO_ANSWER,
        counted=True,
        next_attempt_at=NOW + timedelta(hours=4),
    )
    session.commit()

    (again,) = claim(session, campaign, now=NOW + timedelta(hours=4))
    second = dial(session, again)

    assert (first.attempt_number, second.attempt_number) == (1, 2)
    assert again.attempts_made == 1


def test_a_worker_whose_lease_passed_to_another_cannot_dial(session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 1)
    (stale,) = claim(session, campaign, owner="slow")
    claim(session, campaign, owner="fast", now=NOW + timedelta(minutes=5))

    with pytest.raises(LeaseLost, match="no longer leased by 'slow'"):
        dial(session, stale, owner="slow")
    assert session.exec(select(CallAttempt)).all() == []


@pytest.mark.parametrize(
    "clash",
    [
        {"attempt_number": 1},
        {"idempotency_key": "same-key"},
        {"retell_call_id": "call_same"},
    ],
)
def test_the_database_refuses_duplicate_attempts(
    session: Session, clash: dict[str, object]
) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 1)
    (contact,) = claim(session, campaign)
    attempt = dial(session, contact)
    attempt.idempotency_key = "same-key"
    attempt.retell_call_id = "call_same"
    session.add(attempt)
    session.commit()
    fields = {
        "campaign_id": campaign.id,
        "contact_id": contact.id,
        "attempt_number": 2,
        "idempotency_key": "other-key",
        "retell_call_id": None,
        "agent_id": "agent_abc",
        "from_number": "+14155550100",
        "to_number": contact.phone_e164,
        **clash,
    }
    session.add(CallAttempt.model_validate(fields))

    with pytest.raises(sa.exc.IntegrityError):
        session.commit()


def test_sent_ambiguous_and_refused_attempts(session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 3)
    sent_contact, lost_contact, refused_contact = claim(session, campaign)
    sent, lost, refused = (dial(session, c) for c in (sent_contact, lost_contact, refused_contact))

    mark_attempt_sent(
        session=session, attempt_id=sent.id or 0, retell_call_id="call_1", sent_at=NOW
    )
    attempts.mark_send_failed(
        session=session, attempt_id=lost.id or 0, ambiguous=True, detail="read timeout"
    )
    session.commit()
    attempts.mark_send_failed(
        session=session,
        attempt_id=refused.id or 0,
        ambiguous=False,
        detail="400: invalid to_number",
        outcome_class=OutcomeClass.INVALID_NUMBER,
    )
    session.commit()
    session.expire_all()

    assert [
        a.id
        for a in (sent, lost, refused)
        if attempts.in_doubt(session=session, attempt_id=a.id or 0, owner="w1") is not None
    ] == [lost.id]
    stored = {a.id: a for a in session.exec(select(CallAttempt)).all()}
    assert (stored[sent.id].state, stored[sent.id].retell_call_id) == (AttemptState.SENT, "call_1")
    assert stored[sent.id].sent_at == NOW
    assert (stored[lost.id].state, stored[lost.id].error_detail) == (
        AttemptState.AMBIGUOUS,
        "read timeout",
    )
    assert stored[refused.id].state == AttemptState.ERROR
    assert stored[refused.id].outcome_class == OutcomeClass.INVALID_NUMBER


# --- results --------------------------------------------------------------------------------------

ENDED_CALL = {
    "call_id": "call_1",
    "call_type": "phone_call",
    "agent_id": "agent_abc",
    "agent_version": 7,
    "call_status": "ended",
    "from_number": "+14155550100",
    "to_number": "+12125550100",
    "direction": "outbound",
    "disconnection_reason": "user_hangup",
    "start_timestamp": 1_772_550_000_000,
    "end_timestamp": 1_772_550_093_500,
    "duration_ms": 93_500,
    "call_cost": {"combined_cost": 31.25, "product_costs": [], "total_duration_seconds": 94},
    "latency": {"e2e": {"p50": 812.0, "p90": 1430.5}},
    "recording_url": "https://example.invalid/rec.wav",
    "public_log_url": "https://example.invalid/log.txt",
}
ANALYSIS = {
    "call_summary": "Confirmed the appointment.",
    "call_successful": True,
    "user_sentiment": "Positive",
    "in_voicemail": False,
    "custom_analysis_data": {"confirmed": True},
}


def sent_attempt(session: Session) -> CallAttempt:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 1)
    (contact,) = claim(session, campaign)
    attempt = dial(session, contact)
    mark_attempt_sent(session=session, attempt_id=attempt.id or 0, retell_call_id="call_1")
    return attempt


def test_a_call_object_fills_in_its_attempt(session: Session) -> None:
    attempt = sent_attempt(session)
    analyzed_at = NOW + timedelta(minutes=3)

    recorded = record_call_result(
        session=session,
        call={**ENDED_CALL, "call_analysis": ANALYSIS, "transcript": "Agent: Hi..."},
        outcome_class=OutcomeClass.SUCCESS,
        now=analyzed_at,
    )
    session.commit()
    session.expire_all()

    stored = session.get(CallAttempt, attempt.id)
    assert recorded is not None
    assert stored is not None
    assert stored.state == AttemptState.ENDED
    assert stored.agent_version == 7
    assert stored.disconnection_reason == "user_hangup"
    assert stored.start_timestamp == datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    assert stored.end_timestamp == datetime(2026, 3, 3, 15, 1, 33, 500_000, tzinfo=UTC)
    assert (stored.duration_ms, stored.cost_cents) == (93_500, 31.25)
    assert (stored.latency_e2e_p50_ms, stored.latency_e2e_p90_ms) == (812.0, 1430.5)
    assert stored.call_summary == "Confirmed the appointment."
    assert (stored.call_successful, stored.user_sentiment, stored.in_voicemail) == (
        True,
        "Positive",
        False,
    )
    assert stored.custom_analysis == {"confirmed": True}
    assert stored.recording_url == "https://example.invalid/rec.wav"
    assert stored.public_log_url == "https://example.invalid/log.txt"
    assert stored.transcript == "Agent: Hi..."
    assert stored.analysis_at == analyzed_at
    assert stored.outcome_class == OutcomeClass.SUCCESS
    assert stored.finalized is False  # final only through finalize_attempt


def test_results_never_go_backwards(session: Session) -> None:
    attempt = sent_attempt(session)
    record_call_result(session=session, call={**ENDED_CALL, "call_analysis": ANALYSIS}, now=NOW)

    stale = {
        "call_id": "call_1",
        "call_status": "ongoing",
        "start_timestamp": ENDED_CALL["start_timestamp"],
    }
    record_call_result(session=session, call=stale, now=NOW + timedelta(minutes=5))
    session.commit()

    assert attempt.state == AttemptState.ENDED
    assert attempt.call_summary == "Confirmed the appointment."
    assert attempt.analysis_at == NOW


def attempt_whose_answer_was_lost(session: Session) -> CallAttempt:
    """An attempt whose create may have reached Retell: it has no call id yet."""
    campaign = make_campaign(session)
    add_contacts(session, campaign, 1)
    (contact,) = claim(session, campaign)
    attempt = dial(session, contact)
    attempts.mark_send_failed(
        session=session, attempt_id=attempt.id or 0, ambiguous=True, detail="timeout"
    )
    session.commit()
    return attempt


def test_a_call_whose_create_answer_was_lost_is_matched_by_metadata(session: Session) -> None:
    attempt = attempt_whose_answer_was_lost(session)
    metadata = {
        "campaign": "spring-recall",
        "contact": str(attempt.contact_id),
        "attempt": str(attempt.id),
    }

    recorded = record_call_result(
        session=session,
        call={"call_id": "call_9", "call_status": "registered", "metadata": metadata},
    )
    session.commit()

    assert recorded is not None
    assert (recorded.id, recorded.retell_call_id) == (attempt.id, "call_9")
    assert recorded.state == AttemptState.REGISTERED
    assert attempts.in_doubt(session=session, attempt_id=attempt.id or 0, owner="w1") is None


@pytest.mark.parametrize(
    "call",
    [
        {"call_id": "call_stranger", "call_status": "ended"},
        {"call_id": "call_stranger", "metadata": {"attempt": "not-a-number"}},
        {"call_id": "call_stranger", "metadata": {"attempt": "999999"}},
        {"call_id": "call_stranger", "metadata": "free text"},
    ],
)
def test_calls_that_are_not_ours_are_ignored(session: Session, call: dict[str, object]) -> None:
    sent_attempt(session)

    assert record_call_result(session=session, call=call) is None


def test_free_strings_of_any_length_are_stored_whole(session: Session) -> None:
    """Retell's sentiments and reasons are free strings: a long one is stored, on PostgreSQL too,
    with the rest of the batch it came in."""
    attempt = sent_attempt(session)
    sentiment, reason = "Mostly positive, " + "s" * 283, "ended_by_" + "r" * 291
    analysis = {**ANALYSIS, "user_sentiment": sentiment}
    long_call = {**ENDED_CALL, "disconnection_reason": reason, "call_analysis": analysis}
    stranger = {**ENDED_CALL, "call_id": "call_stranger"}

    recorded = store.results.record_call_results(
        session=session, views=[(long_call, None), (stranger, None)], now=NOW
    )
    session.commit()
    session.expire_all()

    assert [row.id if row else None for row in recorded] == [attempt.id, None]
    stored = session.get(CallAttempt, attempt.id)
    assert stored is not None
    assert (len(sentiment), len(reason)) == (300, 300)
    assert (stored.user_sentiment, stored.disconnection_reason) == (sentiment, reason)


@pytest.mark.parametrize(
    "attempt",
    [
        pytest.param(1.0, id="a float"),
        pytest.param(True, id="a boolean"),
        pytest.param(["1"], id="a list"),
        pytest.param("9" * 5000, id="five thousand digits"),
        pytest.param(str(2**63), id="past any row id"),
        pytest.param("0", id="zero"),
        pytest.param("\u0661", id="a non-ASCII digit"),
    ],
)
def test_a_malformed_attempt_in_metadata_matches_nothing(session: Session, attempt: object) -> None:
    """A call whose campaigner metadata is malformed is not ours, and breaks nothing: not the
    other calls of its batch either."""
    lost = attempt_whose_answer_was_lost(session)
    odd = {"call_id": "call_odd", "call_status": "ended", "metadata": {"attempt": attempt}}
    # Ours, found by its metadata, whatever else that holds.
    ours = {**ENDED_CALL, "metadata": {"attempt": str(lost.id), "score": 3, "tags": ["vip"]}}

    recorded = store.results.record_call_results(
        session=session, views=[(odd, None), (ours, None)], now=NOW
    )

    assert [row.id if row else None for row in recorded] == [None, lost.id]


def test_a_second_call_for_an_attempt_is_recorded_on_a_row_of_its_own(session: Session) -> None:
    """One attempt, one call: a call whose metadata names an attempt that has another call keeps
    that attempt as it was and is counted on a flagged row of its own."""
    attempt = sent_attempt(session)
    second = {
        "call_id": "call_other",
        "call_status": "not_connected",
        "metadata": {"attempt": str(attempt.id)},
    }

    recorded = record_call_result(session=session, call=second)
    again = record_call_result(session=session, call={**second, "call_status": "ended"})
    session.commit()

    assert recorded is not None
    assert again is not None
    assert recorded.id == again.id != attempt.id
    assert (recorded.retell_call_id, recorded.duplicate_of) == ("call_other", attempt.id)
    assert (recorded.contact_id, recorded.attempt_number, recorded.to_number) == (
        attempt.contact_id,
        attempt.attempt_number,
        attempt.to_number,
    )
    assert again.state == AttemptState.ENDED
    session.refresh(attempt)
    assert attempt.retell_call_id == "call_1"
    counted = attempts.calls_to_number_since(
        session=session, numbers=[attempt.to_number], since=NOW
    )
    assert counted == {attempt.to_number: 2}


def test_a_call_for_an_attempt_settled_without_one_is_a_second_call(session: Session) -> None:
    """An attempt settled as having placed no call (its key long forgotten): should its call
    turn up after all, it is recorded and counted, not attached to the settled row."""
    campaign = make_campaign(session)
    add_contacts(session, campaign, 1)
    (contact,) = claim(session, campaign)
    attempt = dial(session, contact)
    finalize_attempt(
        session=session, attempt_id=attempt.id or 0, outcome_class=OutcomeClass.TRANSIENT_FAILURE
    )
    session.commit()
    late = {"call_id": "call_late", "call_status": "ended", "metadata": {"attempt": attempt.id}}

    recorded = record_call_result(session=session, call=late)
    session.commit()

    assert recorded is not None
    assert recorded.duplicate_of == attempt.id
    session.refresh(attempt)
    assert attempt.retell_call_id is None


def test_the_database_refuses_a_second_call_id_for_an_attempt(session: Session) -> None:
    attempt = sent_attempt(session)

    change = sa.update(CallAttempt).where(col(CallAttempt.id) == attempt.id)

    with pytest.raises(sa.exc.IntegrityError, match="call id cannot change"):
        session.exec(change.values(retell_call_id="call_other"))
    session.rollback()
    with pytest.raises(sa.exc.IntegrityError, match="call id cannot change"):
        session.exec(change.values(retell_call_id=None))


def test_an_attempt_is_finalized_once(session: Session) -> None:
    attempt = sent_attempt(session)

    first = finalize_attempt(
        session=session, attempt_id=attempt.id or 0, outcome_class=OutcomeClass.NO_ANSWER
    )
    second = finalize_attempt(
        session=session, attempt_id=attempt.id or 0, outcome_class=OutcomeClass.SUCCESS
    )
    session.commit()

    assert (first, second) == (True, False)
    assert attempt.finalized is True
    assert attempt.outcome_class == OutcomeClass.NO_ANSWER


def test_unfinished_attempts_are_those_with_a_call_not_yet_final(session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 3)
    live, done, unsent = claim(session, campaign)
    live_attempt, done_attempt = dial(session, live), dial(session, done)
    dial(session, unsent)
    for attempt, call_id in ((live_attempt, "call_live"), (done_attempt, "call_done")):
        mark_attempt_sent(session=session, attempt_id=attempt.id or 0, retell_call_id=call_id)
    finalize_attempt(
        session=session, attempt_id=done_attempt.id or 0, outcome_class=OutcomeClass.SUCCESS
    )
    session.commit()

    unfinished = attempts.unfinished(session=session, campaign_id=campaign.id or 0)

    assert [a.retell_call_id for a in unfinished] == ["call_live"]


def test_live_call_ids_are_the_campaigns_calls_still_in_progress_second_calls_included(
    session: Session,
) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 6)
    other = make_campaign(session, "other")
    add_contacts(session, other, 1, start=10)
    statuses = ["sent", "registered", "ongoing", "ended", "not_connected", "unsent"]
    for status, contact in zip(statuses, claim(session, campaign), strict=True):
        attempt = dial(session, contact)
        if status == "unsent":
            continue
        call_id = f"call_{status}"
        mark_attempt_sent(session=session, attempt_id=attempt.id or 0, retell_call_id=call_id)
        if status != "sent":
            record_call_result(session=session, call={"call_id": call_id, "call_status": status})
        if status == "ongoing":
            second = {"attempt": str(attempt.id)}
            record_call_result(
                session=session,
                call={"call_id": "call_second", "call_status": "ongoing", "metadata": second},
            )
    (other_contact,) = claim(session, other)
    other_attempt = dial(session, other_contact)
    mark_attempt_sent(session=session, attempt_id=other_attempt.id or 0, retell_call_id="call_x")
    session.commit()

    live = attempts.live_call_ids(session=session, campaign_id=campaign.id or 0)

    assert live == ["call_sent", "call_registered", "call_ongoing", "call_second"]


def test_attempts_awaiting_analysis_are_settled_connected_calls_ended_recently_without_one(
    session: Session,
) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 5)
    kinds = ["awaiting", "analysed", "not_connected", "unsettled", "ended_long_ago"]
    end_ms = int(NOW.timestamp() * 1000)
    for kind, contact in zip(kinds, claim(session, campaign), strict=True):
        attempt = dial(session, contact)
        mark_attempt_sent(session=session, attempt_id=attempt.id or 0, retell_call_id=kind)
        call: dict[str, object] = {
            "call_id": kind,
            "call_status": "not_connected" if kind == "not_connected" else "ended",
            "end_timestamp": end_ms - (3_600_000 if kind == "ended_long_ago" else 0),
        }
        if kind == "analysed":
            call["call_analysis"] = {"call_summary": "Left a message"}
        record_call_result(session=session, call=call, now=NOW)
        if kind != "unsettled":
            finalize_attempt(
                session=session, attempt_id=attempt.id or 0, outcome_class=OutcomeClass.VOICEMAIL
            )
    session.commit()

    awaiting = attempts.awaiting_analysis(
        session=session, campaign_id=campaign.id or 0, ended_since=NOW - timedelta(minutes=10)
    )

    assert [a.retell_call_id for a in awaiting] == ["awaiting"]


def test_attempts_are_counted_by_outcome(session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 1)
    (contact,) = claim(session, campaign)
    attempt = dial(session, contact)
    attempts.mark_send_failed(
        session=session,
        attempt_id=attempt.id or 0,
        ambiguous=False,
        detail="busy",
        outcome_class=OutcomeClass.BUSY,
    )
    session.commit()
    contact_id = contact.id or 0

    facts = results.settling_facts(session=session, contact_ids=[contact_id])[contact_id]
    busy = facts.attempts_by_outcome.get(OutcomeClass.BUSY, 0)
    voicemail = facts.attempts_by_outcome.get(OutcomeClass.VOICEMAIL, 0)

    assert (busy, voicemail) == (1, 0)


def test_contact_and_campaign_state_are_read_fresh(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions() as reader, sessions() as writer:
        campaign = make_campaign(writer)
        add_contacts(writer, campaign, 1)
        (contact,) = claim(writer, campaign)
        before = store.contacts.get(session=reader, contact_id=contact.id or 0)
        assert before.lease_owner == "w1"
        assert campaigns.status(session=reader, campaign_id=campaign.id or 0) == "active"

        dial(writer, contact)
        campaigns.set_status(
            session=writer, name=campaign.name, status=CampaignStatus.PAUSED, reason="test"
        )
        writer.commit()

        assert store.contacts.get(session=reader, contact_id=contact.id or 0).status == "dialing"
        assert campaigns.status(session=reader, campaign_id=campaign.id or 0) == "paused"
        assert campaigns.status(session=reader, campaign_id=999) is None
        with pytest.raises(StoreError, match="no contact with id 999"):
            store.contacts.get(session=reader, contact_id=999)


def test_next_due_time_is_the_earliest_claimable_contact(session: Session) -> None:
    campaign = make_campaign(session)
    other = make_campaign(session, "other")
    assert claims.next_due_time(session=session, campaign_id=campaign.id or 0) is None
    add_contacts(session, campaign, 2)
    add_contacts(session, other, 1, start=10)
    first, second = claim(session, campaign)
    for contact, delay in ((first, timedelta(hours=4)), (second, timedelta(minutes=30))):
        dial(session, contact)
        settle_contact(
            session=session,
            contact_id=contact.id or 0,
            outcome=OutcomeClass.BUSY,
            counted=True,
            next_attempt_at=NOW + delay,
        )
    session.commit()

    assert claims.next_due_time(session=session, campaign_id=campaign.id or 0) == NOW + timedelta(
        minutes=30
    )
    assert (
        claims.next_due_time(session=session, campaign_id=other.id or 0) == NOW
    )  # imported at NOW


# --- settling contacts and caps -------------------------------------------------------------------


def test_settling_retries_finishes_or_cancels(session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 3)
    retry, finish, cancel = claim(session, campaign)
    for contact in (retry, finish, cancel):
        dial(session, contact)

    settle_contact(
        session=session,
        contact_id=retry.id or 0,
        outcome=OutcomeClass.CAPACITY,
        counted=False,
        next_attempt_at=NOW + timedelta(minutes=1),
    )
    settle_contact(
        session=session,
        contact_id=finish.id or 0,
        outcome=OutcomeClass.DNC_REQUEST,
        counted=True,
        next_attempt_at=None,
    )
    campaign.status = CampaignStatus.CANCELLED
    session.add(campaign)
    session.flush()
    cancelled = settle_contact(
        session=session,
        contact_id=cancel.id or 0,
        outcome=OutcomeClass.BUSY,
        counted=True,
        next_attempt_at=NOW + timedelta(minutes=30),
    )
    session.commit()

    assert (retry.status, retry.attempts_made, retry.next_attempt_at) == (
        ContactStatus.WAITING_RETRY,
        0,
        NOW + timedelta(minutes=1),
    )
    assert (finish.status, finish.final_outcome, finish.attempts_made) == (
        ContactStatus.DONE,
        OutcomeClass.DNC_REQUEST,
        1,
    )
    assert cancelled.status == ContactStatus.CANCELLED


def test_calls_to_a_number_are_counted_across_campaigns(session: Session) -> None:
    first = make_campaign(session)
    second = make_campaign(session, "second")
    add_contacts(session, first, 2)
    add_contacts(session, second, 1)
    a, b = claim(session, first)
    (c,) = claim(session, second)
    for contact in (a, b, c):
        dial(session, contact)
    no_capacity = session.exec(select(CallAttempt).where(CallAttempt.contact_id == b.id)).one()
    no_capacity.outcome_class = OutcomeClass.CAPACITY
    session.add(no_capacity)
    session.commit()

    counts = attempts.calls_to_number_since(
        session=session, numbers=[number(0), number(1), number(5)], since=NOW - timedelta(hours=24)
    )
    later = attempts.calls_to_number_since(
        session=session, numbers=[number(0)], since=NOW + timedelta(seconds=1)
    )

    assert counts == {number(0): 2}  # both campaigns; number(1) only had a capacity error
    assert later == {}


def test_a_call_counts_for_the_number_from_its_start_when_dialed_after_it_was_written(
    session: Session,
) -> None:
    """A batch task written 30 h ago that Retell dialed 2 h ago is a call within the last 24 h."""
    campaign = make_campaign(session)
    add_contacts(session, campaign, 2)
    late, early = claim(session, campaign)
    for contact, started in ((late, NOW - timedelta(hours=2)), (early, NOW - timedelta(hours=29))):
        attempt = dial(session, contact)
        attempt.created_at = NOW - timedelta(hours=30)
        attempt.start_timestamp = started
        session.add(attempt)
    session.commit()

    counts = attempts.calls_to_number_since(
        session=session, numbers=[number(0), number(1)], since=NOW - timedelta(hours=24)
    )

    assert counts == {number(0): 1}


# --- the dialer's batches -------------------------------------------------------------------------


def test_a_batch_of_attempts_results_and_settlements(session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 4)
    first, second, third, taken = claim(session, campaign)
    # Another worker took over `taken` after its lease ran out: w1 must not write its attempt.
    session.exec(sa.update(Contact).where(col(Contact.id) == taken.id).values(lease_owner="w2"))
    session.commit()

    plans = [
        AttemptPlan(contact, "agent_abc", None, "+14155550100", "A")
        for contact in (first, second, third, taken)
    ]
    written = attempts.create(session=session, plans=plans, lease_owner="w1", now=NOW)
    session.commit()
    assert [a.contact_id for a in written] == [first.id, second.id, third.id]
    assert all(a.id is not None and a.attempt_number == 1 for a in written)
    assert len({a.idempotency_key for a in written}) == 3
    one, two, three = written
    attempts.mark_sent(
        session=session,
        sent=[(one.id or 0, "call_a"), (two.id or 0, "call_b"), (three.id or 0, "call_c")],
        sent_at=NOW,
    )
    session.commit()

    ended = {**ENDED_CALL, "call_id": "call_a"}
    analyzed = {**ended, "call_analysis": ANALYSIS}
    busy = {**ENDED_CALL, "call_id": "call_b", "disconnection_reason": "dial_busy"}
    recorded = results.record_call_results(
        session=session,
        views=[
            (ended, None),
            (analyzed, OutcomeClass.SUCCESS),
            (busy, OutcomeClass.BUSY),
            ({"call_id": "call_stranger"}, None),
        ],
        now=NOW,
    )
    assert [r.id if r else None for r in recorded] == [one.id, one.id, two.id, None]
    won = results.finalize_attempts(
        session=session,
        outcomes={one.id or 0: OutcomeClass.SUCCESS, two.id or 0: OutcomeClass.BUSY},
    )
    assert won == {one.id, two.id}
    assert (
        results.finalize_attempts(session=session, outcomes={one.id or 0: OutcomeClass.BUSY})
        == set()
    )
    results.settle_contacts(
        session=session,
        settlements=[
            Settlement(first.id or 0, OutcomeClass.SUCCESS, True, None),
            Settlement(second.id or 0, OutcomeClass.BUSY, True, NOW + timedelta(hours=1)),
        ],
        now=NOW,
    )
    session.commit()
    session.expire_all()

    stored = {a.retell_call_id: a for a in session.exec(select(CallAttempt)).all()}
    assert stored["call_a"].state == AttemptState.ENDED
    assert stored["call_a"].call_summary == ANALYSIS["call_summary"]
    assert stored["call_a"].outcome_class == OutcomeClass.SUCCESS
    assert stored["call_c"].state == AttemptState.SENT
    contacts = {c.id: c for c in session.exec(select(Contact)).all()}
    assert (contacts[first.id].status, contacts[first.id].final_outcome) == (
        ContactStatus.DONE,
        OutcomeClass.SUCCESS,
    )
    assert (contacts[second.id].status, contacts[second.id].next_attempt_at) == (
        ContactStatus.WAITING_RETRY,
        NOW + timedelta(hours=1),
    )
    assert contacts[second.id].attempts_made == 1
    assert contacts[taken.id].status == ContactStatus.PENDING


def test_attempts_written_ahead_and_never_sent_are_withdrawn(session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 3)
    fresh, retried, sent_contact = claim(session, campaign)
    earlier = dial(session, retried)
    attempts.mark_send_failed(
        session=session, attempt_id=earlier.id or 0, ambiguous=False, detail="busy"
    )
    session.commit()
    settle_contact(
        session=session,
        contact_id=retried.id or 0,
        outcome=OutcomeClass.BUSY,
        counted=True,
        next_attempt_at=NOW,
    )
    session.commit()
    (again,) = claim(session, campaign)
    ahead = [dial(session, contact) for contact in (fresh, again, sent_contact)]
    mark_attempt_sent(session=session, attempt_id=ahead[2].id or 0, retell_call_id="call_2")

    withdrawn = attempts.withdraw_unsent(
        session=session, attempt_ids=[a.id or 0 for a in ahead], owner="w1", now=NOW
    )
    session.commit()
    session.expire_all()

    assert withdrawn == 2
    remaining = session.exec(select(CallAttempt.id)).all()
    assert sorted(remaining) == sorted([earlier.id, ahead[2].id])
    statuses = {c.id: c.status for c in session.exec(select(Contact)).all()}
    assert statuses[fresh.id] == ContactStatus.PENDING
    assert statuses[retried.id] == ContactStatus.WAITING_RETRY
    assert statuses[sent_contact.id] == ContactStatus.DIALING
