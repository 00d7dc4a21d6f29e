"""Campaigns: registering one from its configuration, its status, its counts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select
from typing_extensions import TypedDict

from campaigner.campaign import CampaignConfig
from campaigner.store.bulk import bulk_insert
from campaigner.store.errors import CampaignNotFound, StatusChangeError
from campaigner.store.models import (
    CLAIMABLE_STATUSES,
    CallAttempt,
    Campaign,
    CampaignStatus,
    Contact,
    ContactStatus,
)
from campaigner.store.types import utcnow

__all__ = ["CampaignCounts", "counts", "get_by_name", "list_all", "set_status", "status", "upsert"]

_CAMPAIGN: sa.Table = Campaign.__table__  # type: ignore[attr-defined]


def get_by_name(*, session: Session, name: str) -> Campaign | None:
    """The campaign with this name, or None."""
    return session.exec(select(Campaign).where(Campaign.name == name)).first()


def list_all(*, session: Session) -> list[Campaign]:
    """Every campaign, by name."""
    return list(session.exec(select(Campaign).order_by(col(Campaign.name))))


def status(*, session: Session, campaign_id: int) -> CampaignStatus | None:
    """The campaign's status as stored now (another process may have just paused it), or None."""
    return session.exec(select(col(Campaign.status)).where(col(Campaign.id) == campaign_id)).first()


def upsert(*, session: Session, config: CampaignConfig, now: datetime | None = None) -> Campaign:
    """Create the campaign named by `config`, or update its stored configuration.

    Safe when two processes register the same new campaign at once (ON CONFLICT on the name).
    """
    now = now or utcnow()
    stored = config.model_dump(mode="json")
    sha = config.config_sha256()
    bulk_insert(
        session,
        _CAMPAIGN,
        ("name", "config", "config_sha256", "status", "created_at", "updated_at"),
        [(config.name, stored, sha, CampaignStatus.ACTIVE, now, now)],
        conflict=("name",),
        batch_size=1,
    )
    campaign = session.exec(
        select(Campaign)
        .where(Campaign.name == config.name)
        .execution_options(populate_existing=True)
    ).one()
    if campaign.config_sha256 != sha:
        campaign.config = stored
        campaign.config_sha256 = sha
        campaign.updated_at = now
        session.add(campaign)
        session.flush()
    return campaign


_ALLOWED_STATUS_CHANGES = {
    CampaignStatus.ACTIVE: {
        CampaignStatus.PAUSED,
        CampaignStatus.CANCELLED,
        CampaignStatus.COMPLETED,
    },
    CampaignStatus.PAUSED: {CampaignStatus.ACTIVE, CampaignStatus.CANCELLED},
    CampaignStatus.COMPLETED: {CampaignStatus.ACTIVE, CampaignStatus.CANCELLED},
    CampaignStatus.CANCELLED: set(),
}


def set_status(
    *,
    session: Session,
    name: str,
    status: CampaignStatus,
    reason: str | None,
    now: datetime | None = None,
) -> Campaign:
    """Pause, resume, complete or cancel a campaign.

    Setting the status it already has only updates the reason. Cancelling also cancels the
    contacts still waiting to be dialed; contacts in a call finish it. A cancelled campaign stays
    cancelled (`StatusChangeError`); an unknown name raises `CampaignNotFound`.
    """
    now = now or utcnow()
    campaign = get_by_name(session=session, name=name)
    if campaign is None:
        raise CampaignNotFound(f"no campaign named {name!r}")
    if status != campaign.status and status not in _ALLOWED_STATUS_CHANGES[campaign.status]:
        raise StatusChangeError(
            f"campaign {name!r} is {campaign.status.value}; it cannot become {status.value}"
        )
    campaign.status = status
    campaign.status_reason = reason
    campaign.updated_at = now
    session.add(campaign)
    if status == CampaignStatus.CANCELLED:
        session.exec(
            sa.update(Contact)
            .where(
                col(Contact.campaign_id) == campaign.id, col(Contact.status).in_(CLAIMABLE_STATUSES)
            )
            .values(status=ContactStatus.CANCELLED, updated_at=now)
        )
    session.flush()
    return campaign


class CampaignCounts(TypedDict):
    """Progress of one campaign, as counted by `counts`."""

    contacts: int
    contacts_by_status: dict[str, int]
    final_outcomes: dict[str, int]
    attempts: int
    attempts_by_state: dict[str, int]
    attempts_by_outcome: dict[str, int]
    cost_cents: float


def counts(*, session: Session, campaign_id: int) -> CampaignCounts:
    """Contacts by status and final outcome, attempts by state and outcome, and total cost."""
    contacts = session.exec(
        select(col(Contact.status), col(Contact.final_outcome), sa.func.count())
        .where(col(Contact.campaign_id) == campaign_id)
        .group_by(col(Contact.status), col(Contact.final_outcome))
    ).all()
    attempts = session.exec(
        select(
            col(CallAttempt.state),
            col(CallAttempt.outcome_class),
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(col(CallAttempt.cost_cents)), 0.0),
        )
        .where(col(CallAttempt.campaign_id) == campaign_id)
        .group_by(col(CallAttempt.state), col(CallAttempt.outcome_class))
    ).all()
    counts = CampaignCounts(
        contacts=0,
        contacts_by_status={},
        final_outcomes={},
        attempts=0,
        attempts_by_state={},
        attempts_by_outcome={},
        cost_cents=0.0,
    )
    for status, outcome, count in contacts:
        counts["contacts"] += count
        _add(counts["contacts_by_status"], status, count)
        _add(counts["final_outcomes"], outcome, count)
    for state, outcome, count, cost in attempts:
        counts["attempts"] += count
        counts["cost_cents"] += cost or 0.0
        _add(counts["attempts_by_state"], state, count)
        _add(counts["attempts_by_outcome"], outcome, count)
    return counts


def _add(totals: dict[str, int], key: str | None, count: int) -> None:
    if key is not None:
        totals[str(key)] = totals.get(str(key), 0) + count
