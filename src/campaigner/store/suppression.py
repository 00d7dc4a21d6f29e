"""The do-not-call list: numbers never dialed, in any campaign."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaigner.store.bulk import bulk_insert, chunks
from campaigner.store.contacts import INSERT_BATCH_SIZE
from campaigner.store.models import Suppression
from campaigner.store.results import IN_LIST_CHUNK
from campaigner.store.types import utcnow

__all__ = ["add", "entries", "reasons", "remove"]

_SUPPRESSION: sa.Table = Suppression.__table__  # type: ignore[attr-defined]


def reasons(*, session: Session, numbers: Collection[str]) -> dict[str, str]:
    """Which of `numbers` (E.164) are on the do-not-call list, with the reason for each."""
    found: dict[str, str] = {}
    for chunk in chunks(sorted(set(numbers)), IN_LIST_CHUNK):
        found.update(
            session.exec(
                select(Suppression.phone_e164, Suppression.reason).where(
                    col(Suppression.phone_e164).in_(chunk)
                )
            ).all()
        )
    return found


def add(
    *,
    session: Session,
    entries: Sequence[tuple[str, str, str]],
    campaign_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Add (number, reason, source) entries to the do-not-call list.

    A number already on the list keeps its first entry. Returns how many numbers were added.
    """
    now = now or utcnow()
    return bulk_insert(
        session,
        _SUPPRESSION,
        ("phone_e164", "reason", "source", "campaign_id", "created_at"),
        [(number, reason, source, campaign_id, now) for number, reason, source in entries],
        conflict=("phone_e164",),
        batch_size=INSERT_BATCH_SIZE,
    )


def entries(*, session: Session, limit: int | None = None, offset: int = 0) -> list[Suppression]:
    """The do-not-call list, oldest entries first."""
    statement = (
        select(Suppression)
        .order_by(col(Suppression.created_at), col(Suppression.phone_e164))
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(statement))


def remove(*, session: Session, number: str) -> bool:
    """Take a number off the do-not-call list. True if it was on it."""
    result = session.exec(sa.delete(Suppression).where(col(Suppression.phone_e164) == number))
    return result.rowcount > 0
