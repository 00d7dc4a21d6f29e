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
        OutcomeClass.ACCOUNT_ERROR,
    } == FINAL_OUTCOMES
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
            assert f"`{outcome}`" in final_line, outcome
            continue
        assert row is not None, outcome
        default = row[1]
        assert f"`{format_duration(rule.delay)}`" in default, outcome
        assert ("no retry" in default) == (not rule.retry), outcome
        assert ("not counted" in default) == (not rule.counts_as_attempt), outcome
