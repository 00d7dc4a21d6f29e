"""Receipts of dropped files: their words, and when the first calls go out, on an injected clock."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from campaigner.campaign import CallWindow
from campaigner.contacts import IngestSummary
from campaigner.dialer.groups import CallableGroup
from campaigner.receipts import (
    CampaignStanding,
    failed_receipt,
    first_call_lines,
    import_receipt,
    misplaced_receipt,
)
from campaigner.store import CampaignStatus

WEEKDAYS_9_TO_8 = CallWindow()  # Monday to Friday, 09:00 to 20:00 in each recipient's time
SUNDAY_NOON_UTC = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
MONDAY_10_IN_NEW_YORK = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # 05:00 in Honolulu
NEW_YORK = CallableGroup(("America/New_York",))
HONOLULU = CallableGroup(("Pacific/Honolulu",))
ACTIVE = CampaignStanding(status=CampaignStatus.ACTIVE)


def lines(
    due: dict[CallableGroup, int], now: datetime, standing: CampaignStanding = ACTIVE
) -> list[str]:
    return first_call_lines(
        campaign="shop", window=WEEKDAYS_9_TO_8, due_groups=due, now=now, standing=standing
    )


def test_on_a_closed_day_the_first_call_is_when_the_window_opens_on_the_recipients_clock() -> None:
    los_angeles = CallableGroup(("America/Los_Angeles",))
    assert lines({los_angeles: 5, NEW_YORK: 212}, SUNDAY_NOON_UTC) == [
        "First calls, in the recipients' local time (the calling window is closed now):",
        "  Mon 7 Dec, 09:00 New York time (212 contacts)",
        "  Mon 7 Dec, 09:00 Los Angeles time (5 contacts)",
    ]


def test_a_campaign_spanning_eastern_and_hawaii_calls_each_from_its_own_morning() -> None:
    assert lines({HONOLULU: 60, NEW_YORK: 212}, MONDAY_10_IN_NEW_YORK) == [
        "First calls, in the recipients' local time:",
        "  now, Mon 7 Dec, 10:00 New York time (212 contacts)",
        "  Mon 7 Dec, 09:00 Honolulu time (60 contacts)",
    ]


def test_a_number_of_two_zones_waits_for_both_and_shows_the_moment_on_each_clock() -> None:
    chicago_or_new_york = CallableGroup(("America/Chicago", "America/New_York"))
    assert lines({chicago_or_new_york: 1}, SUNDAY_NOON_UTC)[1:] == [
        "  Mon 7 Dec, 09:00 Chicago time = Mon 7 Dec, 10:00 New York time (1 contact)"
    ]


@pytest.mark.parametrize(
    ("standing", "expected"),
    [
        (
            CampaignStanding(status=CampaignStatus.PAUSED, reason="agent being rewritten"),
            "No calls go out: campaign shop is paused (agent being rewritten); they start once "
            "it is resumed (`campaigner resume shop`).",
        ),
        (
            CampaignStanding(status=CampaignStatus.CANCELLED),
            "No calls go out: campaign shop is cancelled.",
        ),
        (
            CampaignStanding(status=CampaignStatus.ACTIVE, spent_cents=5000.4, budget_cents=5000),
            "No calls go out: campaign shop has reached its budget (5000 of 5000 cents spent).",
        ),
    ],
)
def test_a_campaign_that_does_not_dial_says_why_whatever_its_window(
    standing: CampaignStanding, expected: str
) -> None:
    assert lines({NEW_YORK: 212}, MONDAY_10_IN_NEW_YORK, standing) == [expected]


def test_a_budget_not_yet_reached_lets_the_calls_go_out() -> None:
    standing = CampaignStanding(status=CampaignStatus.ACTIVE, spent_cents=4999, budget_cents=5000)
    assert lines({NEW_YORK: 1}, MONDAY_10_IN_NEW_YORK, standing)[1].startswith("  now, ")


def test_nobody_due_is_said_so() -> None:
    assert lines({NEW_YORK: 0}, MONDAY_10_IN_NEW_YORK) == [
        "No calls go out: no contact of the campaign is due (all called, or waiting for a retry)."
    ]


def test_a_window_that_does_not_open_within_three_weeks_is_said_so() -> None:
    saturdays_all_holidays = CallWindow.model_validate(
        {"days": ["sat"], "holidays": [date(2026, 12, 12), date(2026, 12, 19), date(2026, 12, 26)]}
    )
    assert first_call_lines(
        campaign="shop",
        window=saturdays_all_holidays,
        due_groups={NEW_YORK: 3},
        now=SUNDAY_NOON_UTC,
        standing=ACTIVE,
    )[1:] == ["  3 contacts in New York time: the window does not open within three weeks"]


def summary(**changes: object) -> IngestSummary:
    fields: dict[str, object] = {
        "campaign": "shop",
        "file": "inbox/shop/archive/x-monday.csv",
        "sha256": "0" * 64,
        "rows_read": 10,
        "accepted": 6,
        "rejected": {"invalid_number": 1, "duplicate_in_file": 1, "suppressed": 2},
        "duplicates": 1,
        "suppressed": 2,
        "blank_rows": 0,
        "rejected_file": "out/shop/imports/x-monday-00000000.rejected.csv",
        "summary_file": None,
        "already_ingested": False,
    }
    return IngestSummary.model_validate(fields | changes)


def test_an_import_receipt_counts_the_rows_and_says_where_the_rejected_ones_are() -> None:
    text = import_receipt(
        file="monday.csv",
        summary=summary(),
        imported_at=SUNDAY_NOON_UTC,
        first_calls=["First calls: soon"],
    )
    assert text == (
        "monday.csv: imported into campaign shop on 2026-12-06 12:00 UTC.\n"
        "\n"
        "Rows read: 10\n"
        "Accepted: 6\n"
        "Rejected: 4\n"
        "  invalid number: 1\n"
        "  duplicate in file: 1\n"
        "  suppressed: 2\n"
        "  the rejected rows, each with its reason: "
        "out/shop/imports/x-monday-00000000.rejected.csv\n"
        "Suppressed (on the do-not-call list, among the rejected): 2\n"
        "\n"
        "First calls: soon\n"
    )


def test_a_repeat_says_so_and_a_file_with_nothing_rejected_names_no_rejected_file() -> None:
    repeat = summary(
        rows_read=0,
        accepted=0,
        rejected={},
        already_ingested=True,
        first_ingested_at=SUNDAY_NOON_UTC,
        first_ingested_as="inbox/shop/processing/20261206T120000Z-0a1b2c3d-monday.csv",
    )
    text = import_receipt(
        file="copy.csv", summary=repeat, imported_at=SUNDAY_NOON_UTC, first_calls=[]
    )
    assert text.startswith(
        "copy.csv: already imported into campaign shop on 2026-12-06 12:00 UTC as "
        "20261206T120000Z-0a1b2c3d-monday.csv; nothing new was added.\n"
    )
    clean = summary(rejected={}, rows_read=6, duplicates=0, suppressed=0)
    shown = import_receipt(file="a.csv", summary=clean, imported_at=SUNDAY_NOON_UTC, first_calls=[])
    assert "rejected rows" not in shown
    assert "Rejected: 0\n" in shown


def test_a_failed_receipt_says_it_failed_and_why_on_one_line() -> None:
    text = failed_receipt(file="a.csv", campaign="shop", reason="no phone column\nthe file has: x")
    assert text.splitlines()[:2] == [
        "a.csv: NOT imported into campaign shop: the import failed.",
        "Why: no phone column the file has: x",
    ]


def test_a_misplaced_receipt_says_where_to_put_the_file_and_lists_the_campaigns() -> None:
    assert misplaced_receipt(file="a.csv", where="inbox/", campaigns=["pharmacy", "shop"]) == (
        "a.csv: NOT imported: inbox/ is not the folder of a campaign.\n"
        "Put contact files into inbox/<campaign-name>/. The campaigns: pharmacy, shop.\n"
    )
