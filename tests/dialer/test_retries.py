from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaigner.campaign import CampaignConfig, OutcomeClass, parse_campaign
from campaigner.dialer.retries import next_attempt_time

NOW = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)


def campaign(extra: str = "") -> CampaignConfig:
    return parse_campaign(
        "name: t\nagent: {agent_id: agent_1}\nfrom_numbers: ['+14155550100']\n"
        "columns: {phone: phone}\n" + extra
    )


def test_final_outcomes_are_never_retried() -> None:
    config = campaign()
    for outcome in (
        OutcomeClass.SUCCESS,
        OutcomeClass.DNC_REQUEST,
        OutcomeClass.INVALID_NUMBER,
        OutcomeClass.PERMANENT_FAILURE,
        OutcomeClass.ACCOUNT_ERROR,
    ):
        assert (
            next_attempt_time(config, outcome, attempts_made=1, attempts_with_outcome=1, now=NOW)
            is None
        )


def test_retryable_outcomes_wait_their_delay() -> None:
    config = campaign()
    busy = next_attempt_time(
        config, OutcomeClass.BUSY, attempts_made=1, attempts_with_outcome=1, now=NOW
    )
    assert busy == NOW + timedelta(minutes=30)
    no_answer = next_attempt_time(
        config, OutcomeClass.NO_ANSWER, attempts_made=2, attempts_with_outcome=2, now=NOW
    )
    assert no_answer == NOW + timedelta(hours=4)


def test_attempt_cap_ends_the_contact() -> None:
    config = campaign("caps: {max_attempts_per_contact: 2}\n")
    assert (
        next_attempt_time(
            config, OutcomeClass.NO_ANSWER, attempts_made=2, attempts_with_outcome=1, now=NOW
        )
        is None
    )


def test_capacity_errors_do_not_count_against_the_cap() -> None:
    config = campaign("caps: {max_attempts_per_contact: 1}\n")
    retry = next_attempt_time(
        config, OutcomeClass.CAPACITY, attempts_made=1, attempts_with_outcome=5, now=NOW
    )
    assert retry == NOW + timedelta(minutes=1)


def test_per_outcome_max_and_disabled_rules() -> None:
    config = campaign("retry:\n  voicemail: {max_attempts: 1}\n  declined: {retry: false}\n")
    assert (
        next_attempt_time(
            config, OutcomeClass.VOICEMAIL, attempts_made=1, attempts_with_outcome=1, now=NOW
        )
        is None
    )
    assert (
        next_attempt_time(
            config, OutcomeClass.DECLINED, attempts_made=1, attempts_with_outcome=1, now=NOW
        )
        is None
    )
    assert next_attempt_time(
        config, OutcomeClass.BUSY, attempts_made=1, attempts_with_outcome=1, now=NOW
    ) == NOW + timedelta(minutes=30)
