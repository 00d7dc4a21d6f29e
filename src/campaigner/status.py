"""`campaigner status`: where each campaign stands, read from the store alone.

    overviews = campaign_overviews(session=session, name=None, now=utcnow())
    print_overviews(overviews, console=Console())

For each campaign: its status and reason, contacts by status and final outcome, attempts, cost,
the next time a contact may be called (calling windows included), and in batch mode each batch
with its tasks submitted, dialed, connected and finished.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, Field, ValidationError
from rich.console import Console
from rich.table import Table

from campaigner import store
from campaigner.campaign import CampaignConfig
from campaigner.console import add_count_rows
from campaigner.dialer.groups import next_callable_time
from campaigner.display_text import for_rich, printable
from campaigner.receipts import read_first_calls
from campaigner.store import (
    BatchProgress,
    Campaign,
    CampaignCounts,
    CampaignNotFound,
    CampaignStatus,
    Session,
    claims,
)

__all__ = ["CampaignOverview", "campaign_overviews", "overview_lines", "print_overviews"]


class CampaignOverview(BaseModel):
    """One campaign's standing (`campaigner status --json` prints a list of these)."""

    name: str
    status: str
    status_reason: str | None
    mode: str
    counts: CampaignCounts
    next_callable_at: datetime | None
    """None when nobody is due, and while the campaign is paused or cancelled: nobody is called."""
    batches: list[BatchProgress]
    # When the next calls go out, in the recipients' local time (`receipts.first_call_lines`);
    # for people only: `--json` carries `next_callable_at` in UTC instead.
    next_calls: list[str] = Field(default_factory=list, exclude=True)


def campaign_overviews(
    *, session: Session, name: str | None, now: datetime
) -> list[CampaignOverview]:
    """Every campaign (or the one named; `CampaignNotFound` if there is none such)."""
    if name is None:
        campaigns = store.campaigns.list_all(session=session)
    else:
        found = store.campaigns.get_by_name(session=session, name=name)
        if found is None:
            raise CampaignNotFound(f"no campaign named {name!r}")
        campaigns = [found]
    return [_overview(session, campaign, now) for campaign in campaigns]


# No run calls anyone of these: a time shown would read as a promise that nobody keeps. (A
# cancelled campaign's waiting contacts are cancelled with it, but a call in progress at the time
# may still end in a retry.)
_NOT_DIALING = frozenset({CampaignStatus.PAUSED, CampaignStatus.CANCELLED})


def _stored_config(campaign: Campaign) -> CampaignConfig | None:
    try:
        return CampaignConfig.model_validate(campaign.config)
    except ValidationError:
        return None  # stored by a version that wrote another shape: no window to apply


def _next_callable_at(
    session: Session, campaign: Campaign, config: CampaignConfig | None, now: datetime
) -> datetime | None:
    """When a run could next call one of the campaign's contacts (windows included)."""
    assert campaign.id is not None
    if campaign.status in _NOT_DIALING:
        return None
    if config is not None:
        return next_callable_time(session, window=config.window, campaign_id=campaign.id, now=now)
    next_due = claims.next_due_time(session=session, campaign_id=campaign.id)
    return max(now, next_due) if next_due else None


def _overview(session: Session, campaign: Campaign, now: datetime) -> CampaignOverview:
    assert campaign.id is not None
    config = _stored_config(campaign)
    return CampaignOverview(
        name=campaign.name,
        status=campaign.status.value,
        status_reason=campaign.status_reason,
        mode=config.mode if config else "unknown",
        counts=store.campaigns.counts(session=session, campaign_id=campaign.id),
        next_callable_at=_next_callable_at(session, campaign, config, now),
        next_calls=(
            [] if config is None else read_first_calls(session=session, config=config, now=now)
        ),
        batches=store.batches.progress(session=session, campaign_id=campaign.id),
    )


def _joined(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {count}" for key, count in sorted(counts.items())) or "none"


def _batch_line(batch: BatchProgress) -> str:
    trigger = f", from {batch['trigger_at']:%Y-%m-%d %H:%M} UTC" if batch["trigger_at"] else ""
    return (
        f"batch {batch['batch_id']} ({batch['state']}, {batch['timezone']}, "
        f"variant {batch['variant'] or '-'}{trigger}): submitted {batch['submitted']}, "
        f"dialed {batch['dialed']}, connected {batch['connected']}, finished {batch['finished']}"
    )


def _next_callable(overview: CampaignOverview) -> str:
    moment = overview.next_callable_at
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "none"


def _status_with_reason(overview: CampaignOverview, shown: Callable[[str], str]) -> str:
    """`paused (why)`; the reason was written by a person or by Retell, so it goes through
    `shown` (one of display_text's) before it reaches a terminal."""
    reason = f" ({shown(overview.status_reason)})" if overview.status_reason else ""
    return f"{overview.status}{reason}"


def overview_lines(overview: CampaignOverview) -> list[str]:
    """The overview as plain lines (logs, pipes, cron mail), with nothing a terminal acts on."""
    counts = overview.counts
    lines = [
        f"campaign {overview.name}: {_status_with_reason(overview, printable)}, "
        f"{overview.mode} mode",
        f"  contacts {counts['contacts']}: {_joined(counts['contacts_by_status'])}",
        f"  final outcomes: {_joined(counts['final_outcomes'])}",
        f"  attempts {counts['attempts']}: {_joined(counts['attempts_by_outcome'])}",
        f"  cost ${counts['cost_cents'] / 100:,.2f}",
        f"  next callable {_next_callable(overview)}",
        *(f"  {printable(line)}" for line in overview.next_calls),
    ]
    lines += [f"  {_batch_line(batch)}" for batch in overview.batches]
    return lines


def _overview_table(overview: CampaignOverview) -> Table:
    title = f"campaign {overview.name}: {_status_with_reason(overview, for_rich)}"
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("mode", overview.mode)
    add_count_rows(table, overview.counts)
    table.add_row("next callable", _next_callable(overview))
    if overview.next_calls:
        table.add_row("next calls", for_rich("\n".join(overview.next_calls)))
    return table


def _batches_table(batches: list[BatchProgress]) -> Table:
    table = Table(title="batches")
    for column in ("batch", "state", "timezone", "variant", "trigger (UTC)"):
        table.add_column(column)
    for column in ("submitted", "dialed", "connected", "finished"):
        table.add_column(column, justify="right")
    for batch in batches:
        trigger = batch["trigger_at"]
        table.add_row(
            str(batch["batch_id"]),
            batch["state"],
            batch["timezone"],
            batch["variant"] or "-",
            f"{trigger:%Y-%m-%d %H:%M}" if trigger else "-",
            *(str(batch[key]) for key in ("submitted", "dialed", "connected", "finished")),
        )
    return table


def print_overviews(overviews: list[CampaignOverview], console: Console) -> None:
    """Rich tables on a terminal, plain lines anywhere else."""
    if not overviews:
        console.print("no campaigns yet", highlight=False)
    for overview in overviews:
        if not console.is_terminal:
            lines = "\n".join(overview_lines(overview))
            console.print(lines, markup=False, highlight=False, soft_wrap=True)
            continue
        console.print(_overview_table(overview))
        if overview.batches:
            console.print(_batches_table(overview.batches))
