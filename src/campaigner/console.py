"""What a person sees while a campaign runs and when it stops: live progress and the summary.

On a terminal the progress is a live rich table; otherwise (logs, CI, cron) it is a plain line
every few seconds, so log files stay readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from rich.console import Console
from rich.live import Live
from rich.table import Table

from campaigner.dialer.runner import RunProgress, RunSummary
from campaigner.display_text import for_rich
from campaigner.store import CampaignCounts

__all__ = ["ProgressDisplay", "add_count_rows", "print_run_summary", "progress_line"]

PLAIN_LINE_EVERY_S = 5.0


def progress_line(progress: RunProgress) -> str:
    """One line for logs: calls placed, finished, in progress, contacts done."""
    counts = progress.counts
    done = counts["contacts_by_status"].get("done", 0) if counts else 0
    total = counts["contacts"] if counts else 0
    return (
        f"{progress.campaign}: {progress.calls_placed} calls placed, "
        f"{progress.calls_finished} finished, {progress.in_progress} in progress "
        f"(slots {progress.slots}), contacts done {done}/{total}"
    )


def _progress_table(progress: RunProgress) -> Table:
    table = Table(title=f"campaign {progress.campaign}", show_header=False, min_width=48)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("calls placed", str(progress.calls_placed))
    table.add_row("calls finished", str(progress.calls_finished))
    table.add_row("in progress / slots", f"{progress.in_progress} / {progress.slots}")
    if progress.counts:
        for status, count in sorted(progress.counts["contacts_by_status"].items()):
            table.add_row(f"contacts {status}", str(count))
    return table


class ProgressDisplay:
    """Receives `RunProgress` snapshots (as the runner's `on_progress`) and shows them."""

    def __init__(self, console: Console | None = None, *, live: bool | None = None) -> None:
        self._console = console or Console(stderr=True, soft_wrap=True)
        self._live_mode = sys.stderr.isatty() if live is None else live
        self._live: Live | None = None
        self._last_line = float("-inf")

    def __enter__(self) -> Self:
        if self._live_mode:
            self._live = Live(console=self._console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)

    def __call__(self, progress: RunProgress) -> None:
        if self._live is not None:
            self._live.update(_progress_table(progress))
            return
        now = time.monotonic()
        if now - self._last_line >= PLAIN_LINE_EVERY_S:
            self._last_line = now
            self._console.print(progress_line(progress), highlight=False)


def add_count_rows(table: Table, counts: CampaignCounts) -> None:
    """Rows for a campaign's contacts by status and final outcome, attempts by outcome, cost."""
    table.add_row("contacts", str(counts["contacts"]))
    for status, count in sorted(counts["contacts_by_status"].items()):
        table.add_row(f"  {status}", str(count))
    for outcome, count in sorted(counts["final_outcomes"].items()):
        table.add_row(f"  final: {outcome}", str(count))
    table.add_row("attempts", str(counts["attempts"]))
    for outcome, count in sorted(counts["attempts_by_outcome"].items()):
        table.add_row(f"  {outcome}", str(count))
    table.add_row("cost", f"${counts['cost_cents'] / 100:,.2f}")


def print_run_summary(
    summary: RunSummary, console: Console | None = None, next_calls: Sequence[str] = ()
) -> None:
    """The end-of-run summary as a table; `next_calls`: when the next calls go out, in the
    recipients' local time (`receipts.read_first_calls`)."""
    console = console or Console()
    table = Table(title=f"campaign {summary.campaign}: {summary.status}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    # The reason may quote Retell's error text or a person's pause reason.
    table.add_row("stopped because", for_rich(summary.stop_reason))
    table.add_row("calls placed this run", str(summary.calls_placed))
    add_count_rows(table, summary.counts)
    if summary.next_callable_at is not None:
        table.add_row("next callable", f"{summary.next_callable_at:%Y-%m-%d %H:%M} UTC")
    if next_calls:
        table.add_row("next calls", for_rich("\n".join(next_calls)))
    console.print(table)
