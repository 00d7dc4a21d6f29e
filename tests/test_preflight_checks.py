"""The preflight's checks as pure functions of Retell's answers, for the cases the simulator's
demo workspace does not have."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaigner.campaign import CampaignConfig, parse_campaign
from campaigner.preflight import Check, Checklist, Mark, checklist_lines, checklist_markdown
from campaigner.preflight.checks import (
    agent_check,
    api_key_check,
    concurrency_check,
    contacts_check,
    number_check,
    retries_check,
    webhook_check,
)
from campaigner.retell import Agent, ApiKeyInfo, Concurrency, PhoneNumber

NUMBER = "+14155550100"


def campaign(extra: str = "") -> CampaignConfig:
    text = f"""
name: unit
agent: {{agent_id: agent_1, version: 3}}
from_numbers: ["{NUMBER}"]
columns: {{phone: phone}}
{extra}
"""
    return parse_campaign(text)


@pytest.mark.parametrize(
    ("limit", "reserved", "cap", "mark", "ending"),
    [
        (10, 10, None, Mark.FAILED, "no outbound call can start"),
        (10, 4, 8, Mark.WARNING, "so at most 6 calls run at once"),
        (10, 4, 5, Mark.PASSED, "up to 5 calls at once"),
        (10, 4, None, Mark.PASSED, "up to 6 calls at once"),
    ],
)
def test_concurrency_is_judged_by_the_outbound_slots(
    limit: int, reserved: int, cap: int | None, mark: Mark, ending: str
) -> None:
    caps = "" if cap is None else f"caps: {{max_concurrency: {cap}}}"
    answer = Concurrency(
        concurrency_limit=limit, reserved_inbound_concurrency=reserved, current_concurrency=2
    )
    check = concurrency_check(answer, campaign(caps))
    assert check.mark is mark
    assert check.found.startswith("limit 10, ")
    assert check.found.endswith(ending)


def test_a_number_that_may_not_call_the_campaigns_countries_blocks() -> None:
    config = campaign("numbers: {allowed_countries: [US, CA]}")
    only_us = PhoneNumber(phone_number=NUMBER, allowed_outbound_country_list=["US"])
    check = number_check(NUMBER, only_us, config)
    assert check.mark is Mark.FAILED
    assert check.found == "may not call CA (its allowed outbound countries)"
    both = PhoneNumber(phone_number=NUMBER, allowed_outbound_country_list=["US", "CA"])
    assert number_check(NUMBER, both, config).mark is Mark.PASSED


def test_a_number_without_an_outbound_agent_still_places_the_campaigns_calls() -> None:
    check = number_check(NUMBER, PhoneNumber(phone_number=NUMBER), campaign())
    assert check.mark is Mark.PASSED
    assert "no outbound agent bound" in check.found


def test_a_numbered_version_answered_by_another_version_does_not_exist() -> None:
    variant = campaign().agent_variants()[0]
    assert agent_check(variant, Agent(agent_id="agent_1", version=0), True).mark is Mark.FAILED
    assert agent_check(variant, Agent(agent_id="agent_1", version=3), True).mark is Mark.PASSED


@pytest.mark.parametrize(
    ("events", "mark"),
    [
        (None, Mark.INFO),
        (["call_started", "call_analyzed"], Mark.INFO),
        (["call_started"], Mark.WARNING),
    ],
)
def test_webhooks_that_carry_no_result_are_a_warning(events: list[str] | None, mark: Mark) -> None:
    variant = campaign().agent_variants()[0]
    agent = Agent(agent_id="agent_1", webhook_url="https://example.com/hook", webhook_events=events)
    check = webhook_check(variant, agent)
    assert check.mark is mark
    assert "https://example.com/hook" in check.found


def test_contacts_none_callable_now_say_when_the_first_is() -> None:
    first = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    check = contacts_check(0, 5, first)
    assert check.found == (
        "0 can be called now, 5 wait for a retry time or their window; "
        "the first can be called at 2026-12-07 14:00 UTC"
    )
    assert contacts_check(0, 5, None).found.endswith("none can be called within three weeks")


def test_the_key_check_names_the_workspace_where_retell_says_it() -> None:
    info = ApiKeyInfo(org_id="org_1", org_name="Acme", api_key_name="campaigns")
    check = api_key_check(info, "https://api.retellai.com")
    assert check.found == "accepted by https://api.retellai.com: workspace 'Acme' (key 'campaigns')"


def test_retries_are_said_in_words_with_their_limits() -> None:
    config = campaign(
        "retry: {voicemail: {delay: 1d, max_attempts: 1}, busy: {retry: false}}\n"
        "caps: {max_attempts_per_contact: 4}"
    )
    found = retries_check(config).found
    assert found.startswith("at most 4 attempts per contact and 3 calls per number a day; ")
    assert "voicemail after 1d (at most 1 such attempts)" in found
    assert "no answer after 4h," in found
    assert "busy" not in found


def test_what_a_check_found_is_shown_as_text_on_a_terminal_and_in_markdown() -> None:
    checklist = Checklist(
        campaign="spring",
        base_url="https://api.retellai.com",
        checked_at=datetime(2026, 12, 6, tzinfo=UTC),
        checks=[
            Check(
                topic="agent",
                mark=Mark.FAILED,
                found="Retell answered 404: [red]**gone**[/red]\x1b]0;title\x07",
                fix="\x1b[2Jpublish it | again",
            )
        ],
    )

    assert checklist_lines(checklist)[1:] == [
        "✗ agent: Retell answered 404: [red]**gone**[/red]",
        "    fix: publish it | again",
    ]
    assert checklist_markdown(checklist).splitlines()[-1] == (
        r"| ✗ | agent | Retell answered 404: \[red\]\*\*gone\*\*\[/red\] | publish it \| again |"
    )
