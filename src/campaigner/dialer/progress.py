"""A run's progress and summary in the shapes dashboards want: a percentage, rows, markdown.

The Prefect flows publish these as artifacts; nothing here imports Prefect. `ThrottledProgress`
sits between the runner's `on_progress` (called on every turn of its loop, several times a second)
and whatever publishes it, so a dashboard is updated every few seconds, never per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from campaigner.dialer.runner import RunProgress, RunSummary
from campaigner.display_text import for_markdown
from campaigner.store import CampaignCounts, ContactStatus
from campaigner.store.models import CLAIMABLE_STATUSES

__all__ = ["ThrottledProgress", "outcome_rows", "percent_done", "summary_markdown"]

_OPEN_STATUSES = frozenset({*CLAIMABLE_STATUSES, ContactStatus.DIALING})


class ThrottledProgress:
    """An `on_progress` that passes a snapshot on at most once every `every` seconds."""

    def __init__(
        self,
        publish: Callable[[RunProgress], None],
        *,
        every: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publish = publish
        self._every = every
        self._monotonic = monotonic
        self._last = float("-inf")

    def __call__(self, progress: RunProgress) -> None:
        now = self._monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._publish(progress)


def percent_done(counts: CampaignCounts | None) -> float:
    """The share of the campaign's contacts with nothing left to dial, 0 to 100."""
    if not counts or not counts["contacts"]:
        return 0.0
    still_open = sum(
        count for status, count in counts["contacts_by_status"].items() if status in _OPEN_STATUSES
    )
    return round(100.0 * (counts["contacts"] - still_open) / counts["contacts"], 1)


def outcome_rows(counts: CampaignCounts) -> list[dict[str, str | int]]:
    """One row per outcome class: attempts that ended with it and contacts it finished."""
    outcomes = sorted(set(counts["attempts_by_outcome"]) | set(counts["final_outcomes"]))
    return [
        {
            "outcome": outcome,
            "attempts": counts["attempts_by_outcome"].get(outcome, 0),
            "contacts finished": counts["final_outcomes"].get(outcome, 0),
        }
        for outcome in outcomes
    ]


def summary_markdown(summary: RunSummary) -> str:
    """The end-of-run summary as a short markdown document."""
    counts = summary.counts
    statuses = ", ".join(
        f"{status} {count}" for status, count in sorted(counts["contacts_by_status"].items())
    )
    next_callable = (
        f"{summary.next_callable_at:%Y-%m-%d %H:%M} UTC" if summary.next_callable_at else "none"
    )
    return "\n".join(
        [
            f"# Campaign {summary.campaign}: {summary.status}",
            "",
            f"- stopped because: {for_markdown(summary.stop_reason) or 'the run ended'}",
            f"- calls placed this run: {summary.calls_placed}, finished: {summary.calls_finished}",
            f"- contacts: {counts['contacts']} ({statuses or 'none'}), "
            f"{percent_done(counts):.1f}% done",
            f"- attempts in all: {counts['attempts']}, cost ${counts['cost_cents'] / 100:,.2f}",
            f"- next callable: {next_callable}",
            "",
        ]
    )
