"""The breakers decide when a run must pause: no store, no clock, no Retell."""

from __future__ import annotations

from campaigner.campaign import OutcomeClass
from campaigner.dialer.breakers import Breakers
from campaigner.retell import Call


def breakers(budget_cents: int | None = None, spent_cents: float = 0.0) -> Breakers:
    return Breakers(
        budget_cents=budget_cents,
        spent_cents=spent_cents,
        dial_failed_window=5,
        dial_failed_trip=3,
    )


def ended(reason: str) -> Call:
    return Call.model_validate(
        {
            "call_id": "call_1",
            "call_type": "phone_call",
            "agent_id": "agent_1",
            "call_status": "ended",
            "disconnection_reason": reason,
        }
    )


def test_failed_dials_trip_by_count_within_the_window_once() -> None:
    judge = breakers()
    judge.note_outcome(OutcomeClass.NO_ANSWER, "dial_failed")
    judge.note_outcome(OutcomeClass.NO_ANSWER, "dial_failed")
    assert judge.take_trip() is None
    judge.note_outcome(OutcomeClass.NO_ANSWER, "dial_failed")
    reason = judge.take_trip()
    assert reason is not None
    assert reason.startswith("3 of the last 3 calls failed to connect (dial_failed)")
    assert judge.take_trip() is None  # taken once
    # The window restarts after a trip: two more failures are not three.
    judge.note_outcome(OutcomeClass.NO_ANSWER, "dial_failed")
    judge.note_outcome(OutcomeClass.NO_ANSWER, "dial_failed")
    assert judge.take_trip() is None


def test_every_trunk_failure_counts_toward_the_breaker() -> None:
    judge = breakers()
    for reason in ("marked_as_spam", "sip_routing_error", "telephony_provider_unavailable"):
        judge.note_outcome(OutcomeClass.TRANSIENT_FAILURE, reason)
    tripped = judge.take_trip()
    assert tripped is not None
    assert "(marked_as_spam, sip_routing_error, telephony_provider_unavailable)" in tripped


def test_the_same_refusal_three_times_in_a_row_trips_whatever_the_number() -> None:
    judge = breakers()
    judge.note_refusal("to_number: +12125550100 is not supported")
    judge.note_refusal("to_number: +12125550101 is not supported")
    assert judge.take_trip() is None
    judge.note_refusal("to_number: +1 (212) 555-0102 is not supported")
    tripped = judge.take_trip()
    assert tripped is not None
    assert tripped.startswith("Retell refused 3 calls in a row with the same answer")


def test_refusals_are_in_a_row_only_until_a_call_is_placed_or_the_answer_changes() -> None:
    judge = breakers()
    judge.note_refusal("to_number: +12125550100 is not supported")
    judge.note_refusal("to_number: +12125550101 is not supported")
    judge.note_placed()
    judge.note_refusal("to_number: +12125550102 is not supported")
    judge.note_refusal("to_number: +12125550103 is on a blocklist")
    judge.note_refusal("to_number: +12125550104 is not supported")
    assert judge.take_trip() is None


def test_failures_spread_beyond_the_window_do_not_trip() -> None:
    judge = breakers()
    for _ in range(3):
        judge.note_outcome(OutcomeClass.NO_ANSWER, "dial_failed")
        for _ in range(4):
            judge.note_outcome(OutcomeClass.SUCCESS, "agent_hangup")
        assert judge.take_trip() is None


def test_an_account_error_trips_at_once() -> None:
    judge = breakers()
    judge.note_outcome(OutcomeClass.ACCOUNT_ERROR, "no_valid_payment")
    assert judge.take_trip() == "a call ended with an account error (no_valid_payment)"


def test_the_budget_counts_earlier_spend_and_trips_when_reached() -> None:
    judge = breakers(budget_cents=100, spent_cents=60.0)
    judge.note_cost(39.0)
    assert judge.take_trip() is None
    judge.note_cost(1.0)
    assert judge.take_trip() == "budget reached: 100 of 100 cents spent"


def test_watched_calls_are_ends_the_breakers_count() -> None:
    assert breakers().watches(ended("dial_failed"))
    assert breakers().watches(ended("marked_as_spam"))
    assert breakers().watches(ended("no_valid_payment"))
    assert not breakers().watches(ended("user_hangup"))
    assert breakers(budget_cents=100).watches(ended("user_hangup"))
    ongoing = ended("dial_failed").model_copy(update={"call_status": "ongoing"})
    assert not breakers().watches(ongoing)
