"""Prefect events for what someone should hear about: rows rejected, a campaign paused, blocked by
its checks, or completed (every contact settled).

Each event's resource is the campaign (`campaigner.campaign.<name>`); Prefect adds the flow run
that emitted it as a related resource. Automations turn them into Slack messages or e-mails
(docs/flows.md), so campaigner has no notifier of its own. The dialer knows nothing of Prefect:
these are emitted from the flows, after the fact, from what the runs return and the store says.
Payloads hold campaign names, file names, counts and reasons: never a key.
"""

from __future__ import annotations

from typing import Any

from prefect.events import emit_event

from campaigner import store
from campaigner.dialer.runner import RunSummary
from campaigner.inbox import FileOutcome
from campaigner.preflight import PreflightFailed
from campaigner.store import (
    CampaignCounts,
    CampaignStatus,
    ContactStatus,
    Engine,
    transaction,
)
from campaigner.store.models import CLAIMABLE_STATUSES

__all__ = [
    "COMPLETED",
    "PAUSED",
    "PREFLIGHT_FAILED",
    "ROWS_REJECTED",
    "campaign_resource_id",
    "campaign_status",
    "emit_preflight_failed",
    "emit_rows_rejected",
    "emit_run_end",
]

ROWS_REJECTED = "campaigner.campaign.rows-rejected"
PAUSED = "campaigner.campaign.paused"
COMPLETED = "campaigner.campaign.completed"
PREFLIGHT_FAILED = "campaigner.campaign.preflight-failed"
_OPEN_STATUSES = frozenset({*CLAIMABLE_STATUSES, ContactStatus.DIALING})
"""A contact in one of these may still be called (its campaign is not finished)."""


def campaign_resource_id(campaign: str) -> str:
    """The campaign as a Prefect event resource (what automations match on)."""
    return f"campaigner.campaign.{campaign}"


def _emit(event: str, campaign: str, payload: dict[str, Any]) -> None:
    resource = {
        "prefect.resource.id": campaign_resource_id(campaign),
        "prefect.resource.name": campaign,
    }
    emit_event(event, resource=resource, payload=payload)


def campaign_status(engine: Engine, campaign: str) -> str | None:
    """The campaign's status in the store; None before its first run has stored it."""
    with transaction(engine) as session:
        found = store.campaigns.get_by_name(session=session, name=campaign)
        return None if found is None else found.status.value


def emit_run_end(status_before: str | None, summary: RunSummary) -> None:
    """`PAUSED` when the run paused the campaign (a breaker, the budget or refusals: the reason is
    the run's stop reason); `COMPLETED` when the run settled the last calls and nobody is left to
    dial. A later run, which settles nothing, says neither again."""
    paused = CampaignStatus.PAUSED.value
    if summary.status == paused and status_before != paused:
        _emit(PAUSED, summary.campaign, {"reason": summary.stop_reason})
    if summary.calls_finished and _nobody_left(summary.counts):
        payload = {
            "reason": summary.stop_reason,
            "final_outcomes": summary.counts["final_outcomes"],
        }
        _emit(COMPLETED, summary.campaign, payload)


def _nobody_left(counts: CampaignCounts) -> bool:
    # Not percent_done() == 100: it rounds, and 1 contact left of 2000 is 100.0 %.
    by_status = counts["contacts_by_status"]
    return bool(counts["contacts"]) and not any(by_status.get(s, 0) for s in _OPEN_STATUSES)


def emit_preflight_failed(campaign: str, failed: PreflightFailed) -> None:
    """`PREFLIGHT_FAILED`, with the checklist as the reason: the campaign dials nobody until the
    blockers are fixed."""
    _emit(PREFLIGHT_FAILED, campaign, {"reason": str(failed)})


def emit_rows_rejected(outcomes: list[FileOutcome]) -> None:
    """`ROWS_REJECTED` for each file imported with rejected rows (a repeat of a file imported
    before is said once, at its first import)."""
    for outcome in outcomes:
        summary = outcome.summary
        if summary is None or summary.already_ingested or not summary.rejected_total:
            continue
        payload = {
            "file": outcome.file,
            "accepted": summary.accepted,
            "rejected": summary.rejected_total,
            "rejected_by_reason": summary.rejected,
            "rejected_file": summary.rejected_file,
        }
        _emit(ROWS_REJECTED, outcome.campaign, payload)
