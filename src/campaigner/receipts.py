"""Receipts: what became of a file dropped into the inbox, in plain words, for the person who
dropped it (written beside the file by `campaigner.inbox`, shown in the `watch-inbox-receipts`
artifact).

An import's receipt counts its rows (read, accepted, rejected by reason with where the rejected
rows are, suppressed), then says when the campaign's first calls go out in the recipients' own
local time, per group of zones, or why none do: the campaign paused, cancelled or out of budget,
nobody left to call. `first_call_lines` decides that from its arguments alone (no store, no
clock), so every case is tested with an injected `now`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from campaigner import store
from campaigner.campaign import CallWindow, CampaignConfig
from campaigner.contacts import IngestSummary
from campaigner.dialer.groups import CallableGroup
from campaigner.display_text import printable
from campaigner.store import CampaignStatus, Session, claims

__all__ = [
    "CampaignStanding",
    "failed_receipt",
    "first_call_lines",
    "import_receipt",
    "misplaced_receipt",
    "read_first_calls",
]


@dataclass(frozen=True)
class CampaignStanding:
    """What decides whether a campaign dials at all: its status (and why), and its spend."""

    status: CampaignStatus
    reason: str | None = None
    spent_cents: float = 0.0
    budget_cents: int | None = None


def _city(zone: str) -> str:
    """`America/New_York` as people say it: New York."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def _local_time(moment: datetime, zone: str) -> str:
    """`Mon 7 Dec, 09:00 New York time`: the moment on the recipient's own clock."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M} {_city(zone)} time"


def _contacts(count: int) -> str:
    return f"{count} contact" if count == 1 else f"{count} contacts"


def _why_no_calls(standing: CampaignStanding, campaign: str) -> str | None:
    """Why the campaign places no call whatever its window says, or None when it may dial."""
    reason = f" ({standing.reason})" if standing.reason else ""
    if standing.status is CampaignStatus.CANCELLED:
        return f"No calls go out: campaign {campaign} is cancelled{reason}."
    if standing.status is not CampaignStatus.ACTIVE:
        return (
            f"No calls go out: campaign {campaign} is {standing.status.value}{reason}; "
            f"they start once it is resumed (`campaigner resume {campaign}`)."
        )
    budget = standing.budget_cents
    if budget is not None and standing.spent_cents >= budget:
        return (
            f"No calls go out: campaign {campaign} has reached its budget "
            f"({standing.spent_cents:.0f} of {budget} cents spent)."
        )
    return None


def _group_line(group: CallableGroup, count: int, moment: datetime | None, now: datetime) -> str:
    """One group's first call: `moment` on each of its zones' clocks, and how many are due."""
    if moment is None:
        zones = " / ".join(_city(zone) for zone in group.zones)
        return f"{_contacts(count)} in {zones} time: the window does not open within three weeks"
    when = " = ".join(_local_time(moment, zone) for zone in group.zones)
    return f"{'now, ' if moment == now else ''}{when} ({_contacts(count)})"


def first_call_lines(
    *,
    campaign: str,
    window: CallWindow,
    due_groups: Mapping[CallableGroup, int],
    now: datetime,
    standing: CampaignStanding,
) -> list[str]:
    """When the campaign's first calls go out, in the recipients' local time, one line per group
    of zones with its count of contacts due (earliest first), or the one line saying why none do.

    A group of several zones (a number whose area code spans a boundary) is called only when the
    window is open in every one of them: its line shows that moment on each of their clocks.
    """
    why_not = _why_no_calls(standing, campaign)
    if why_not is not None:
        return [why_not]
    moments = {
        group: group.next_callable_at(window, now)
        for group, count in due_groups.items()
        if count > 0
    }
    if not moments:
        return [
            "No calls go out: no contact of the campaign is due (all called, or waiting for "
            "a retry)."
        ]
    closed = "" if now in moments.values() else " (the calling window is closed now)"
    never = datetime.max.replace(tzinfo=now.tzinfo)
    ordered = sorted(moments, key=lambda group: (moments[group] or never, group))
    return [
        f"First calls, in the recipients' local time{closed}:",
        *(f"  {_group_line(group, due_groups[group], moments[group], now)}" for group in ordered),
    ]


def read_first_calls(*, session: Session, config: CampaignConfig, now: datetime) -> list[str]:
    """`first_call_lines` of the stored campaign: its status, spend and contacts due by `now`."""
    campaign = store.campaigns.get_by_name(session=session, name=config.name)
    if campaign is None or campaign.id is None:
        return ["No calls go out: the campaign has no contacts yet."]
    spent = store.campaigns.counts(session=session, campaign_id=campaign.id)["cost_cents"]
    due = claims.due_by_zone_set(session=session, campaign_id=campaign.id, now=now)
    return first_call_lines(
        campaign=config.name,
        window=config.window,
        due_groups={CallableGroup(zones): counts.due for zones, counts in due.items()},
        now=now,
        standing=CampaignStanding(
            status=campaign.status,
            reason=campaign.status_reason,
            spent_cents=spent,
            budget_cents=config.budget_cents,
        ),
    )


def _text(lines: Sequence[str]) -> str:
    """The receipt's lines as text, each printable: they quote file names and reasons."""
    return "".join(f"{printable(line)}\n" for line in lines)


def _reason_name(code: str) -> str:
    return code.replace("_", " ")


def _row_lines(summary: IngestSummary) -> list[str]:
    lines = [
        f"Rows read: {summary.rows_read}",
        f"Accepted: {summary.accepted}",
        f"Rejected: {summary.rejected_total}",
        *(f"  {_reason_name(code)}: {count}" for code, count in summary.rejected.items()),
    ]
    if summary.rejected_total and summary.rejected_file:
        lines.append(f"  the rejected rows, each with its reason: {summary.rejected_file}")
    lines.append(f"Suppressed (on the do-not-call list, among the rejected): {summary.suppressed}")
    return lines


def import_receipt(
    *,
    file: str,
    summary: IngestSummary,
    imported_at: datetime,
    first_calls: Sequence[str],
    note: str | None = None,
) -> str:
    """The receipt of an imported file (`file` as it was dropped): its rows, then its first
    calls. A repeat of an earlier import says so instead of counting rows."""
    if summary.already_ingested:
        first_as = Path(summary.first_ingested_as or "").name
        first_at = summary.first_ingested_at
        rows = [
            f"{file}: already imported into campaign {summary.campaign}"
            + (f" on {first_at:%Y-%m-%d %H:%M} UTC" if first_at else "")
            + f" as {first_as}; nothing new was added."
        ]
    else:
        rows = [
            f"{file}: imported into campaign {summary.campaign} on "
            f"{imported_at:%Y-%m-%d %H:%M} UTC.",
            "",
            *_row_lines(summary),
        ]
    return _text([*rows, *([note] if note else []), "", *first_calls])


def failed_receipt(*, file: str, campaign: str, reason: str, advice: str | None = None) -> str:
    """The receipt of a file that was not imported: that it failed, why (one line), what to do."""
    return _text(
        [
            f"{file}: NOT imported into campaign {campaign}: the import failed.",
            f"Why: {reason}",
            "",
            advice or "Fix the file and drop it into the inbox again.",
        ]
    )


def misplaced_receipt(*, file: str, where: str, campaigns: Sequence[str]) -> str:
    """The receipt of a file dropped where no campaign is (`where`): where to put it instead."""
    known = ", ".join(campaigns) or "none yet (add campaigns/<campaign-name>.yaml first)"
    return _text(
        [
            f"{file}: NOT imported: {where} is not the folder of a campaign.",
            f"Put contact files into inbox/<campaign-name>/. The campaigns: {known}.",
        ]
    )
