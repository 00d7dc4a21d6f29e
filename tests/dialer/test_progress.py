"""A run's progress and summary for dashboards: throttling, the percentage, rows, markdown."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from campaigner.console import print_run_summary
from campaigner.dialer.progress import (
    ThrottledProgress,
    outcome_rows,
    percent_done,
    summary_markdown,
)
from campaigner.dialer.runner import RunProgress, RunSummary
from campaigner.store import CampaignCounts

# What Retell's error text (quoted in an automatic pause) could hold: markdown, HTML, Rich markup,
# a screen clear.
HOSTILE_REASON = (
    "Retell answered 400: <img src=x onerror=alert(1)> [click](https://evil.example) **now** "
    "[link=https://evil.example]here[/link]\x1b[2J"
)


def counts(by_status: dict[str, int]) -> CampaignCounts:
    return CampaignCounts(
        contacts=sum(by_status.values()),
        contacts_by_status=by_status,
        final_outcomes={"success": 3, "dnc_request": 1},
        attempts=9,
        attempts_by_state={},
        attempts_by_outcome={"success": 3, "no_answer": 5, "dnc_request": 1},
        cost_cents=1234.0,
    )


def test_progress_is_passed_on_at_most_once_per_interval() -> None:
    now = [0.0]
    seen: list[int] = []
    throttled = ThrottledProgress(
        lambda progress: seen.append(progress.calls_placed), every=5, monotonic=lambda: now[0]
    )
    for second in range(12):
        now[0] = float(second)
        throttled(RunProgress(campaign="c", calls_placed=second))
    assert seen == [0, 5, 10]


def test_percent_done_counts_contacts_with_nothing_left_to_dial() -> None:
    assert percent_done(None) == 0.0
    assert percent_done(counts({})) == 0.0
    mixed = {"done": 5, "suppressed": 1, "cancelled": 0, "pending": 2, "waiting_retry": 1}
    assert percent_done(counts({**mixed, "dialing": 1})) == 60.0
    assert percent_done(counts({"done": 4})) == 100.0


def test_outcome_rows_join_attempts_and_finished_contacts() -> None:
    assert outcome_rows(counts({"done": 4})) == [
        {"outcome": "dnc_request", "attempts": 1, "contacts finished": 1},
        {"outcome": "no_answer", "attempts": 5, "contacts finished": 0},
        {"outcome": "success", "attempts": 3, "contacts finished": 3},
    ]


def test_summary_markdown_says_why_the_run_stopped_and_what_is_next() -> None:
    summary = RunSummary(
        campaign="spring",
        status="active",
        stop_reason="nothing is due now",
        calls_placed=7,
        calls_finished=7,
        counts=counts({"done": 4, "waiting_retry": 4}),
        next_callable_at=datetime(2026, 5, 1, 13, 0, tzinfo=UTC),
    )
    text = summary_markdown(summary)
    assert text.startswith("# Campaign spring: active\n")
    assert "- stopped because: nothing is due now" in text
    assert "- calls placed this run: 7, finished: 7" in text
    assert "- contacts: 8 (done 4, waiting_retry 4), 50.0% done" in text
    assert "cost $12.34" in text
    assert "- next callable: 2026-05-01 13:00 UTC" in text


def summary_of_a_run_stopped_because(reason: str) -> RunSummary:
    return RunSummary(
        campaign="spring",
        status="paused",
        stop_reason=reason,
        calls_placed=1,
        calls_finished=1,
        counts=counts({"done": 1}),
        next_callable_at=None,
    )


def test_summary_markdown_shows_a_reason_as_text() -> None:
    text = summary_markdown(summary_of_a_run_stopped_because(HOSTILE_REASON))

    (line,) = [line for line in text.splitlines() if line.startswith("- stopped because: ")]
    assert line == (
        r"- stopped because: Retell answered 400: \<img src=x onerror=alert\(1\)\> "
        r"\[click\]\(https://evil\.example\) \*\*now\*\* "
        r"\[link=https://evil\.example\]here\[/link\]"
    )


def test_the_run_summary_on_a_terminal_shows_a_reason_as_text() -> None:
    out = io.StringIO()

    # No colours: any escape sequence in the output would be the reason's own.
    console = Console(file=out, force_terminal=True, color_system=None, width=400)
    print_run_summary(summary_of_a_run_stopped_because(HOSTILE_REASON), console)

    text = out.getvalue()
    assert "[link=https://evil.example]here[/link]" in text
    assert "\x1b" not in text
