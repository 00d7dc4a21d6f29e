"""Claims: leasing due contacts to one dialer, giving leases back, and when the next is due."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaigner.store import contacts
from campaigner.store.bulk import chunks
from campaigner.store.models import (
    CLAIMABLE_STATUSES,
    LIVE_ATTEMPT_STATES,
    CallAttempt,
    Campaign,
    CampaignStatus,
    Contact,
    Suppression,
)
from campaigner.store.results import IN_LIST_CHUNK
from campaigner.store.types import utcnow

__all__ = [
    "ZoneSetDue",
    "claim_due",
    "count_due",
    "due_by_zone_set",
    "lease_again",
    "next_due_time",
    "release",
    "zone_sets",
]


def next_due_time(*, session: Session, campaign_id: int) -> datetime | None:
    """When the campaign's next contact is due, ignoring calling windows; None if none can be."""
    return session.exec(
        select(sa.func.min(col(Contact.next_attempt_at))).where(
            col(Contact.campaign_id) == campaign_id, col(Contact.status).in_(CLAIMABLE_STATUSES)
        )
    ).one()


def zone_sets(*, session: Session, campaign_id: int) -> list[tuple[str, ...]]:
    """The distinct candidate-timezone sets of the campaign's contacts that could still be dialed.

    The dialer checks its calling window once per set and passes the open ones to
    `claim_due(timezones=...)`.
    """
    keys = session.exec(
        select(Contact.timezone_key)
        .where(Contact.campaign_id == campaign_id, col(Contact.status).in_(CLAIMABLE_STATUSES))
        .distinct()
    )
    return sorted(tuple(key.split("|")) if key else () for key in keys)


@dataclass(frozen=True)
class ZoneSetDue:
    """The contacts of one candidate-timezone set that could still be dialed: how many are due
    by a given time, and how many wait for a later retry time."""

    due: int
    waiting: int


def due_by_zone_set(
    *, session: Session, campaign_id: int, now: datetime
) -> dict[tuple[str, ...], ZoneSetDue]:
    """The campaign's contacts that could still be dialed, by candidate-timezone set: due by
    `now` or waiting. Reads only (no leases, suppressions or calls in progress are looked at),
    for a preflight's estimate of who is callable now."""
    is_due = sa.case((col(Contact.next_attempt_at) <= now, 1), else_=0)
    rows = session.exec(
        select(col(Contact.timezone_key), sa.func.count(), sa.func.sum(is_due))
        .where(col(Contact.campaign_id) == campaign_id, col(Contact.status).in_(CLAIMABLE_STATUSES))
        .group_by(col(Contact.timezone_key))
    ).all()
    return {
        tuple(key.split("|")) if key else (): ZoneSetDue(due=due, waiting=total - due)
        for key, total, due in rows
    }


def claim_due(
    *,
    session: Session,
    campaign_id: int,
    now: datetime,
    limit: int,
    lease_owner: str,
    lease_seconds: float,
    timezones: Collection[Collection[str]] | None = None,
) -> list[Contact]:
    """Lease up to `limit` contacts that are due to be dialed, atomically; commit the leases
    before dialing them.

    A contact is due when its campaign is active, it is pending or waiting for a retry, its
    `next_attempt_at` has come (a new contact is due from its import), its number is not
    suppressed and not in a live call (in any campaign), and nobody holds an unexpired lease on it.
    With `timezones`, only contacts whose candidate-zone set is one of those given are claimed.
    The longest due come first, then by id (file order).

    Two claimers never get the same contact: on PostgreSQL the rows are locked with
    FOR UPDATE SKIP LOCKED; on SQLite the single UPDATE ... RETURNING runs under the write lock.
    """
    if timezones is not None and any(isinstance(zones, str) for zones in timezones):
        raise TypeError("timezones is a collection of zone sets, e.g. [('America/New_York',)]")
    if limit <= 0 or (timezones is not None and not timezones):
        return []
    due = (
        _due_contact_ids(campaign_id=campaign_id, now=now, timezones=timezones)
        .order_by(col(Contact.next_attempt_at), col(Contact.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claim = (
        sa.update(Contact)
        .where(col(Contact.id).in_(due.scalar_subquery()))
        .values(
            lease_owner=lease_owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            updated_at=now,
        )
        .returning(Contact)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
    claimed = list(session.exec(claim).scalars())
    return sorted(claimed, key=_claim_order)


def count_due(
    *,
    session: Session,
    campaign_id: int,
    now: datetime,
    timezones: Collection[Collection[str]],
    at_most: int | None = None,
) -> int:
    """How many contacts `claim_due` would lease now (counting stops at `at_most`)."""
    if not timezones:
        return 0
    due = _due_contact_ids(campaign_id=campaign_id, now=now, timezones=timezones)
    if at_most is not None:
        due = due.limit(at_most)
    counted: int = session.scalar(sa.select(sa.func.count()).select_from(due.subquery())) or 0
    return counted


def _due_contact_ids(
    *, campaign_id: int, now: datetime, timezones: Collection[Collection[str]] | None
) -> sa.Select[tuple[int | None]]:
    """The ids of the campaign's due contacts (see `claim_due`), in no order."""
    suppressed = sa.exists().where(col(Suppression.phone_e164) == col(Contact.phone_e164))
    in_live_call = sa.exists().where(
        col(CallAttempt.to_number) == col(Contact.phone_e164),
        col(CallAttempt.state).in_(LIVE_ATTEMPT_STATES),
    )
    campaign_active = sa.exists().where(
        col(Campaign.id) == col(Contact.campaign_id),
        col(Campaign.status) == CampaignStatus.ACTIVE,
    )
    due = sa.select(col(Contact.id)).where(
        col(Contact.campaign_id) == campaign_id,
        # Inline values, so the planners can match the partial index ix_contact_due.
        col(Contact.status).in_(
            sa.bindparam("claimable", CLAIMABLE_STATUSES, expanding=True, literal_execute=True)
        ),
        col(Contact.next_attempt_at) <= now,
        sa.or_(col(Contact.lease_expires_at).is_(None), col(Contact.lease_expires_at) <= now),
        ~suppressed,
        ~in_live_call,
        campaign_active,
    )
    if timezones is not None:
        due = due.where(
            col(Contact.timezone_key).in_({contacts.timezone_key(z) for z in timezones})
        )
    return due


def _claim_order(contact: Contact) -> tuple[datetime, int]:
    return (contact.next_attempt_at, contact.id or 0)


def release(
    *,
    session: Session,
    contact_ids: Collection[int],
    lease_owner: str,
    next_attempt_at: datetime | None = None,
    now: datetime | None = None,
) -> int:
    """Give back leases this owner holds without dialing (e.g. a cap was reached).

    With `next_attempt_at`, the contacts are not due again before then. Returns how many were
    released.
    """
    now = now or utcnow()
    values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None, "updated_at": now}
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    released = 0
    for chunk in chunks(sorted(contact_ids), IN_LIST_CHUNK):
        result = session.exec(
            sa.update(Contact)
            .where(col(Contact.id).in_(chunk), col(Contact.lease_owner) == lease_owner)
            .values(**values)
        )
        released += result.rowcount
    return released


def lease_again(
    *,
    session: Session,
    contact_ids: Collection[int],
    lease_owner: str,
    lease_seconds: float,
    now: datetime,
) -> None:
    """Lease contacts that `lease_owner` has just settled itself (the tasks of its own batch that
    Retell refused), so it can send them again before anyone else claims them.

    Only contacts still dialable (pending or waiting for a retry) are leased; call it in the
    transaction that settled them. If the owner dies, the lease expires and they are due again.
    """
    expires_at = now + timedelta(seconds=lease_seconds)
    for chunk in chunks(sorted(contact_ids), IN_LIST_CHUNK):
        session.exec(
            sa.update(Contact)
            .where(col(Contact.id).in_(chunk), col(Contact.status).in_(CLAIMABLE_STATUSES))
            .values(lease_owner=lease_owner, lease_expires_at=expires_at, updated_at=now)
        )
