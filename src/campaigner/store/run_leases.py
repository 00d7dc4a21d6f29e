"""Runs of one campaign sharing its concurrency: a lease row per live run.

Whether a run is alive is never judged by comparing clocks: runs on different machines disagree
about the time, and a paused process's clock jumps. Each renewal adds one to the row's `beat`;
another run that sees a beat stand still for the lease time (on its own monotonic clock, see
`campaigner.dialer.leases.LeaseWatch`) names that row stale, and the next `hold` drops it if
its beat has still not moved. A run whose row was dropped learns it at its next renewal
(`RunShare.renewed` is False) and must act as a new run: what it owned may have been taken over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaigner.store.models import Campaign, RunLease
from campaigner.store.types import utcnow

__all__ = ["RunShare", "drop", "hold"]


@dataclass(frozen=True)
class RunShare:
    """The slots a run holds now and its equal part (which it holds once the others have shrunk
    to theirs), the campaign's other runs with their beats and calls up, and whether the run's
    own row was still there to renew."""

    slots: int
    part: int
    others_in_progress: int
    others: tuple[str, ...]
    beats: Mapping[str, int] = field(default_factory=dict)
    renewed: bool = True


def hold(
    *,
    session: Session,
    owner: str,
    campaign_id: int,
    campaign_slots: int,
    calls_in_progress: int,
    seconds: float,
    stale: Mapping[str, int] | None = None,
    now: datetime | None = None,
) -> RunShare:
    """Renew (or take) this run's lease and the slots it holds of the campaign's `campaign_slots`,
    first dropping the `stale` rows (owner: the beat seen standing still) whose beat has still
    not moved. Commit it: the other runs read the renewal.

    Each run holds an equal part (the oldest rows take the remainder), but never more than the
    other runs leave free: a run that joins waits until the others renew and shrink, so the runs
    together never hold more than the campaign's slots. Runs hold their rows' write in turn (the
    campaign row is locked on PostgreSQL; SQLite has one writer), so two runs never both take the
    same free slots. `now` only stamps `expires_at` for people to read.
    """
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        session.exec(select(Campaign.id).where(Campaign.id == campaign_id).with_for_update())
    for stale_owner, beat in (stale or {}).items():
        if stale_owner != owner:
            session.exec(
                sa.delete(RunLease).where(
                    col(RunLease.owner) == stale_owner, col(RunLease.beat) == beat
                )
            )
    expires_at = now + timedelta(seconds=seconds)
    renewed = session.exec(
        sa.update(RunLease)
        .where(col(RunLease.owner) == owner)
        .values(
            calls_in_progress=calls_in_progress,
            expires_at=expires_at,
            beat=col(RunLease.beat) + 1,
        )
    ).rowcount
    if not renewed:
        session.add(
            RunLease(
                owner=owner,
                campaign_id=campaign_id,
                slots=0,
                calls_in_progress=calls_in_progress,
                expires_at=expires_at,
                created_at=now,
            )
        )
        session.flush()
    live = list(
        session.exec(
            select(RunLease)
            .where(RunLease.campaign_id == campaign_id)
            .order_by(col(RunLease.created_at), col(RunLease.owner))
        )
    )
    mine = next(lease for lease in live if lease.owner == owner)
    others = [lease for lease in live if lease.owner != owner]
    part, remainder = divmod(max(campaign_slots, 0), len(live))
    part += 1 if live.index(mine) < remainder else 0
    free = campaign_slots - sum(lease.slots for lease in others)
    mine.slots = max(0, min(part, free))
    session.add(mine)
    session.flush()
    share = RunShare(
        slots=mine.slots,
        part=part,
        others_in_progress=sum(lease.calls_in_progress for lease in others),
        others=tuple(lease.owner for lease in others),
        beats={lease.owner: lease.beat for lease in others},
        renewed=bool(renewed),
    )
    return share


def drop(*, session: Session, owner: str) -> None:
    """A run that ends gives its share back at once (or a dead run's is taken back)."""
    session.exec(sa.delete(RunLease).where(col(RunLease.owner) == owner))
