"""Preflight passes: which versions of a campaign's setup passed their checks against Retell, and
when (`campaigner.preflight` decides what a version is and how old a pass may be)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaigner.store.bulk import bulk_insert
from campaigner.store.models import PreflightPass

__all__ = ["passed_at", "record"]

_PREFLIGHT_PASS: sa.Table = PreflightPass.__table__  # type: ignore[attr-defined]


def passed_at(*, session: Session, fingerprint: str) -> datetime | None:
    """When this version of a setup last passed its preflight; None if it never did."""
    return session.exec(
        select(col(PreflightPass.checked_at)).where(col(PreflightPass.fingerprint) == fingerprint)
    ).first()


def record(*, session: Session, fingerprint: str, campaign: str, checked_at: datetime) -> None:
    """Remember that this version passed at `checked_at` (a pass recorded before is replaced)."""
    session.exec(sa.delete(PreflightPass).where(col(PreflightPass.fingerprint) == fingerprint))
    # A run passing the same version at the same moment inserted it first: its pass is as good.
    bulk_insert(
        session,
        _PREFLIGHT_PASS,
        ("fingerprint", "campaign", "checked_at"),
        [(fingerprint, campaign, checked_at)],
        conflict=("fingerprint",),
        batch_size=1,
    )
