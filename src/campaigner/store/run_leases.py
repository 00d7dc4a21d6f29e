"""Runs sharing a Retell workspace's concurrency: a lease row per live run, one pool per workspace.

Every run of every campaign that dials one workspace holds a row here. At each renewal a run
splits the workspace's slots (its outbound capacity less the traffic campaigner does not place)
between the campaigns whose runs want slots, in proportion to their `priority` and never beyond
what a campaign wants or its `max_concurrency` (`allocate`), then its campaign's slots between
the campaign's live runs. A run never takes slots the others still hold: one joining, or one
whose campaign's share grew, waits until the others renew and shrink, so the runs together never
hold more than the workspace's slots.

Whether a run is alive is never judged by comparing clocks: runs on different machines disagree
about the time, and a paused process's clock jumps. Each renewal adds one to the row's `beat`;
another run that sees a beat stand still for the lease time (on its own monotonic clock, see
`campaigner.dialer.leases.LeaseWatch`) names that row stale, and the next `hold` drops it if
its beat has still not moved. A run whose row was dropped learns it at its next renewal
(`RunShare.renewed` is False) and must act as a new run: what it owned may have been taken over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaigner.store.models import RunLease
from campaigner.store.types import utcnow

__all__ = ["CampaignDemand", "RunShare", "allocate", "drop", "drop_expired", "hold"]


@dataclass(frozen=True)
class RunShare:
    """The slots a run holds now and its part (which it holds once the others have shrunk to
    theirs); the campaign's other live runs (`others`); the beats and the calls in progress of
    every other run dialing the workspace; and whether the run's own row was still there to
    renew."""

    slots: int
    part: int
    others_in_progress: int
    others: tuple[str, ...]
    beats: Mapping[str, int] = field(default_factory=dict)
    renewed: bool = True


@dataclass(frozen=True)
class CampaignDemand:
    """What a campaign's runs want of the workspace: `wanted` slots (None: as many as they can
    get), at most `cap`, weighed by `priority`; ties go to the lower `order`."""

    wanted: int | None
    cap: int | None
    priority: int
    order: int

    def limit(self, pool: int) -> int:
        """The most slots the campaign could use of `pool`."""
        bounds = [pool, *(bound for bound in (self.wanted, self.cap) if bound is not None)]
        return max(0, min(bounds))


def allocate(pool: int, demands: Mapping[int, CampaignDemand]) -> dict[int, int]:
    """Split `pool` slots between campaigns in proportion to their priority, none getting more
    than it can use (`CampaignDemand.limit`); what one cannot use goes to the others (weighted
    max-min fairness). Whole slots: each gets the whole part of its fair share, and the slots
    left go to the largest fractions (then the higher priority, then the lower `order`)."""
    pool = max(pool, 0)
    limits = {campaign: demand.limit(pool) for campaign, demand in demands.items()}
    fair = dict.fromkeys(demands, 0.0)
    left = float(min(pool, sum(limits.values())))
    open_ = {campaign for campaign, limit in limits.items() if limit > 0}
    # Fill level by level: campaigns that reach their limit drop out, the rest share what is left.
    while open_ and left > 0:
        weight = sum(demands[campaign].priority for campaign in open_)
        level = left / weight
        capped = {c for c in open_ if limits[c] - fair[c] <= level * demands[c].priority}
        if not capped:
            for campaign in open_:
                fair[campaign] += level * demands[campaign].priority
            break
        for campaign in capped:
            left -= limits[campaign] - fair[campaign]
            fair[campaign] = float(limits[campaign])
        open_ -= capped
    shares = {campaign: int(share) for campaign, share in fair.items()}
    spare = min(pool, sum(limits.values())) - sum(shares.values())
    by_fraction = sorted(
        (c for c in demands if shares[c] < limits[c]),
        key=lambda c: (-(fair[c] - shares[c]), -demands[c].priority, demands[c].order),
    )
    for campaign in by_fraction[:spare]:
        shares[campaign] += 1
    return shares


def hold(
    *,
    session: Session,
    owner: str,
    campaign_id: int,
    workspace: str,
    workspace_slots: int,
    calls_in_progress: int,
    wanted: int | None,
    priority: int,
    campaign_cap: int | None,
    seconds: float,
    stale: Mapping[str, int] | None = None,
    now: datetime | None = None,
) -> RunShare:
    """Renew (or take) this run's lease and the slots it holds of the workspace's
    `workspace_slots` (see the module docstring), first dropping the `stale` rows (owner: the
    beat seen standing still) whose beat has still not moved. Commit it: the other runs read the
    renewal.

    Within its campaign's slots each run holds an equal part (the oldest rows take the
    remainder). Runs hold the workspace's rows' write in turn (an advisory lock on PostgreSQL;
    SQLite has one writer), so two runs never both take the same free slots. `now` only stamps
    `expires_at` for people to read.
    """
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(workspace))))
    for stale_owner, beat in (stale or {}).items():
        if stale_owner != owner:
            session.exec(
                sa.delete(RunLease).where(
                    col(RunLease.owner) == stale_owner, col(RunLease.beat) == beat
                )
            )
    expires_at = now + timedelta(seconds=seconds)
    mine_now: dict[str, Any] = {
        "calls_in_progress": calls_in_progress,
        "wanted": wanted,
        "priority": priority,
        "campaign_cap": campaign_cap,
        "expires_at": expires_at,
    }
    renewed = session.exec(
        sa.update(RunLease)
        .where(col(RunLease.owner) == owner)
        .values(beat=col(RunLease.beat) + 1, **mine_now)
    ).rowcount
    if not renewed:
        session.add(
            RunLease(
                owner=owner,
                campaign_id=campaign_id,
                workspace=workspace,
                slots=0,
                created_at=now,
                **mine_now,
            )
        )
        session.flush()
    # The workspace's runs share its slots; the campaign's runs (in any workspace) own its
    # attempts: a run must know both to be alive.
    known = list(
        session.exec(
            select(RunLease)
            .where(
                sa.or_(
                    col(RunLease.workspace) == workspace, col(RunLease.campaign_id) == campaign_id
                )
            )
            .order_by(col(RunLease.created_at), col(RunLease.owner))
        )
    )
    live = [lease for lease in known if lease.workspace == workspace]
    mine = next(lease for lease in live if lease.owner == owner)
    others = [lease for lease in live if lease.owner != owner]
    runs = [lease for lease in live if lease.campaign_id == campaign_id]
    campaign_slots = allocate(workspace_slots, _demands(live))[campaign_id]
    part, remainder = divmod(campaign_slots, len(runs))
    part += 1 if runs.index(mine) < remainder else 0
    free = min(
        campaign_slots - sum(lease.slots for lease in runs if lease is not mine),
        workspace_slots - sum(lease.slots for lease in others),
    )
    mine.slots = max(0, min(part, free))
    session.add(mine)
    session.flush()
    return RunShare(
        slots=mine.slots,
        part=part,
        others_in_progress=sum(lease.calls_in_progress for lease in others),
        others=tuple(
            lease.owner for lease in known if lease.campaign_id == campaign_id and lease is not mine
        ),
        beats={lease.owner: lease.beat for lease in known if lease is not mine},
        renewed=bool(renewed),
    )


def _demands(live: list[RunLease]) -> dict[int, CampaignDemand]:
    """What each campaign with a live run wants, from its runs' rows (in age order)."""
    demands: dict[int, CampaignDemand] = {}
    for order, lease in enumerate(live):
        known = demands.get(lease.campaign_id)
        if known is None:
            demands[lease.campaign_id] = CampaignDemand(
                wanted=lease.wanted, cap=lease.campaign_cap, priority=lease.priority, order=order
            )
        elif known.wanted is not None:
            wanted = None if lease.wanted is None else known.wanted + lease.wanted
            demands[lease.campaign_id] = CampaignDemand(
                wanted=wanted, cap=known.cap, priority=known.priority, order=known.order
            )
    return demands


def _lock_key(workspace: str) -> int:
    """The workspace's PostgreSQL advisory lock: a signed 64-bit number from its name."""
    digest = hashlib.sha256(f"campaigner-ledger:{workspace}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def drop(*, session: Session, owner: str) -> None:
    """A run that ends gives its share back at once (or a dead run's is taken back)."""
    session.exec(sa.delete(RunLease).where(col(RunLease.owner) == owner))


def drop_expired(*, session: Session, before: datetime) -> int:
    """Delete the rows of runs that said they would renew before `before` (housekeeping: a run
    that died while no other run dialed its workspace leaves its row). Liveness is judged by
    beats, never by this; callers pass a time far enough back that no clock is that far off."""
    return session.exec(sa.delete(RunLease).where(col(RunLease.expires_at) < before)).rowcount
