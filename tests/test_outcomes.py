"""The table of outcome classes: one row per class, and the docs say what it says."""

from __future__ import annotations

import re
from pathlib import Path

from campaigner.durations import format_duration
from campaigner.outcomes import (
    CONNECTED_OUTCOMES,
    FINAL_OUTCOMES,
    OUTCOMES,
    RESULT_GROUP_COLOURS,
    UNCOUNTED_FOR_CAPS,
    OutcomeClass,
    ResultGroup,
)

CAMPAIGN_FILE_DOCS = Path(__file__).resolve().parents[1] / "docs" / "campaign-file.md"


def test_every_outcome_class_has_exactly_one_row() -> None:
    assert list(OUTCOMES) == list(OutcomeClass)


def test_every_result_group_has_a_colour_of_its_own() -> None:
    assert list(RESULT_GROUP_COLOURS) == list(ResultGroup)
    colours = list(RESULT_GROUP_COLOURS.values())
    assert len(set(colours)) == len(colours)


def test_which_outcomes_are_final_and_which_connected() -> None:
    assert {
        OutcomeClass.SUCCESS,
        OutcomeClass.DNC_REQUEST,
        OutcomeClass.INVALID_NUMBER,
        OutcomeClass.PERMANENT_FAILURE,
    } == FINAL_OUTCOMES
    # The account's or the setup's doing: never final for a contact, never counted.
    assert {outcome for outcome in OutcomeClass if not outcome.is_about_contact} == {
        OutcomeClass.ACCOUNT_ERROR
    }
    assert {OutcomeClass.CAPACITY, OutcomeClass.ACCOUNT_ERROR} == UNCOUNTED_FOR_CAPS
    assert {
        OutcomeClass.SUCCESS,
        OutcomeClass.CONNECTED_UNSUCCESSFUL,
        OutcomeClass.CALLBACK_REQUESTED,
        OutcomeClass.DNC_REQUEST,
    } == CONNECTED_OUTCOMES
    assert all(outcome.is_final == (outcome in FINAL_OUTCOMES) for outcome in OutcomeClass)


def test_the_campaign_file_docs_give_every_default_rule() -> None:
    docs = CAMPAIGN_FILE_DOCS.read_text(encoding="utf-8")
    final_line = next(line for line in docs.splitlines() if "Final outcomes are never" in line)
    final_line += docs.split(final_line, 1)[1].split("\n\n", 1)[0]
    for outcome, traits in OUTCOMES.items():
        rule = traits.default_retry
        row = re.search(rf"^\| `{outcome}` \| ([^|]*) \|", docs, re.MULTILINE)
        if rule is None:
            assert row is None, outcome
            # Final outcomes are listed as such; the one not about the contact is said not to be.
            listed = f"`{outcome}`" in final_line
            assert listed == traits.final, outcome
            assert f"`{outcome}` (the account" in docs or traits.about_contact, outcome
            continue
        assert row is not None, outcome
        default = row[1]
        assert f"`{format_duration(rule.delay)}`" in default, outcome
        assert ("no retry" in default) == (not rule.retry), outcome
        assert ("not counted" in default) == (not rule.counts_as_attempt), outcome
