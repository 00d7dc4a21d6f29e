"""Who may send an attempt's create, and when: the store's side of "one attempt, one call".

An attempt is written `pending_send` and owned by the run that wrote it. Before its create goes
out, the owner takes the right to send it (`claim_first_sends`): the row moves to `ambiguous`
(a request may reach Retell from now on) and records Retell's time. From then on the attempt is
never withdrawn, only reconciled: found by its metadata, or sent again with its own idempotency
key, which is safe only while Retell still remembers the key (`claim_resend`). Every right is a
conditional UPDATE naming the owner, so a run that lost its lease (paused, killed, its clock
wrong) and had its attempts taken over (`take_over`) can no longer send them.

Task attempts of batch calls are left out: a batch is reconciled as a whole.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaigner.store.bulk import chunks
from campaigner.store.models import AttemptState, CallAttempt, Contact, ContactStatus
from campaigner.store.results import IN_LIST_CHUNK
from campaigner.store.types import utcnow

__all__ = [
    "CallOnRecord",
    "calls_on_record",
    "claim_first_sends",
    "claim_resend",
    "in_doubt",
    "owners_without_call",
    "take_over",
    "withdraw_unsent",
]

_ATTEMPT: sa.Table = CallAttempt.__table__  # type: ignore[attr-defined]
_CONTACT: sa.Table = Contact.__table__  # type: ignore[attr-defined]

_WITHOUT_CALL = (
    _ATTEMPT.c.retell_call_id.is_(None),
    _ATTEMPT.c.finalized.is_(False),
    _ATTEMPT.c.batch_id.is_(None),
)


@dataclass(frozen=True)
class CallOnRecord:
    """An attempt of the store that has a Retell call."""

    attempt_id: int
    call_id: str
    duplicate_of: int | None


def calls_on_record(*, session: Session, campaign_id: int) -> list[CallOnRecord]:
    """Every attempt of the campaign with its call id, second calls included, by attempt id."""
    rows = session.connection().execute(
        sa.select(_ATTEMPT.c.id, _ATTEMPT.c.retell_call_id, _ATTEMPT.c.duplicate_of)
        .where(_ATTEMPT.c.campaign_id == campaign_id, _ATTEMPT.c.retell_call_id.is_not(None))
        .order_by(_ATTEMPT.c.id)
    )
    return [CallOnRecord(row[0], row[1], row[2]) for row in rows]


def claim_first_sends(
    *, session: Session, attempt_ids: Collection[int], owner: str, retell_time: datetime
) -> set[int]:
    """Take the right to send these written attempts' creates, for the first time. Commits.

    Only attempts still `pending_send` and owned by `owner` are claimed; they become `ambiguous`
    with `retell_time` (a time Retell's clock has reached, so never later than the create's
    arrival) as the moment their key was first used. Returns the ids claimed: the others were
    taken over or withdrawn meanwhile and must not be sent.
    """
    claimed: set[int] = set()
    connection = session.connection()
    for chunk in chunks(sorted(attempt_ids), IN_LIST_CHUNK):
        claimed.update(
            connection.execute(
                _ATTEMPT.update()
                .where(
                    _ATTEMPT.c.id.in_(chunk),
                    _ATTEMPT.c.owner == owner,
                    _ATTEMPT.c.state == AttemptState.PENDING_SEND,
                    *_WITHOUT_CALL,
                )
                .values(
                    state=AttemptState.AMBIGUOUS,
                    key_first_sent_at=sa.func.coalesce(
                        _ATTEMPT.c.key_first_sent_at, sa.bindparam("t", retell_time, _key_type())
                    ),
                )
                .returning(_ATTEMPT.c.id)
            ).scalars()
        )
    session.commit()
    return claimed


def claim_resend(
    *, session: Session, attempt_id: int, owner: str, key_used_since: datetime
) -> bool:
    """Take the right to send an attempt in doubt again with its own key. Commits.

    Granted only while `owner` owns it, it has no call and is not settled, and its key was first
    used at or after `key_used_since` (Retell's time, the caller's bound for a key Retell still
    remembers). False: the resend must not go out.
    """
    claimed = (
        session.connection()
        .execute(
            _ATTEMPT.update()
            .where(
                _ATTEMPT.c.id == attempt_id,
                _ATTEMPT.c.owner == owner,
                _ATTEMPT.c.state == AttemptState.AMBIGUOUS,
                _ATTEMPT.c.key_first_sent_at >= sa.bindparam("since", key_used_since, _key_type()),
                *_WITHOUT_CALL,
            )
            .values(owner=owner)
            .returning(_ATTEMPT.c.id)
        )
        .first()
    )
    session.commit()
    return claimed is not None


def in_doubt(*, session: Session, attempt_id: int, owner: str) -> CallAttempt | None:
    """The attempt, if `owner` owns it and it is still in doubt (`ambiguous`, no call, not
    settled); None otherwise."""
    return session.exec(
        select(CallAttempt).where(
            CallAttempt.id == attempt_id,
            CallAttempt.owner == owner,
            CallAttempt.state == AttemptState.AMBIGUOUS,
            col(CallAttempt.retell_call_id).is_(None),
            col(CallAttempt.finalized).is_(False),
        )
    ).first()


def owners_without_call(*, session: Session, campaign_id: int) -> set[str]:
    """The runs that own attempts of the campaign without a call (written or in doubt)."""
    rows = session.connection().execute(
        sa.select(_ATTEMPT.c.owner)
        .where(
            _ATTEMPT.c.campaign_id == campaign_id,
            _ATTEMPT.c.state.in_([AttemptState.PENDING_SEND, AttemptState.AMBIGUOUS]),
            _ATTEMPT.c.owner.is_not(None),
            *_WITHOUT_CALL,
        )
        .distinct()
    )
    return {owner for owner in rows.scalars() if owner is not None}


def take_over(
    *,
    session: Session,
    campaign_id: int,
    owner: str,
    live_owners: Collection[str],
    now: datetime | None = None,
) -> list[int]:
    """Make `owner` the owner of the campaign's attempts without a call whose owner is not among
    `live_owners` (it stopped, died, or lost its lease). Commits.

    Those still `pending_send` were never handed to Retell and their former owner can no longer
    claim them: they are withdrawn at once (rows deleted, contacts due again). Returns the ids of
    those in doubt (`ambiguous`), which `owner` must now reconcile.
    """
    live = sorted({*live_owners, owner})
    taken = (
        session.connection()
        .execute(
            _ATTEMPT.update()
            .where(
                _ATTEMPT.c.campaign_id == campaign_id,
                _ATTEMPT.c.state.in_([AttemptState.PENDING_SEND, AttemptState.AMBIGUOUS]),
                sa.or_(_ATTEMPT.c.owner.is_(None), _ATTEMPT.c.owner.not_in(live)),
                *_WITHOUT_CALL,
            )
            .values(owner=owner)
            .returning(_ATTEMPT.c.id, _ATTEMPT.c.state)
        )
        .all()
    )
    unsent = [attempt_id for attempt_id, state in taken if state == AttemptState.PENDING_SEND]
    _delete_unsent(session, unsent, owner=owner, states=(AttemptState.PENDING_SEND,), now=now)
    session.commit()
    return sorted(attempt_id for attempt_id, state in taken if state == AttemptState.AMBIGUOUS)


def withdraw_unsent(
    *,
    session: Session,
    attempt_ids: Collection[int],
    owner: str,
    claimed: bool = False,
    now: datetime | None = None,
) -> int:
    """Take back attempts `owner` wrote whose create was never handed to Retell. Commits.

    The rows are deleted and their contacts are due again as they were before (pending, or
    waiting for a retry when they had earlier attempts). `claimed`: also attempts whose send
    right the caller took (`claim_first_sends`) and knows it never used, e.g. a send cancelled
    while it waited for the rate limiter. Attempts that moved on meanwhile, or that another run
    took over, are left alone. Returns how many were withdrawn.
    """
    states = (
        (AttemptState.PENDING_SEND, AttemptState.AMBIGUOUS)
        if claimed
        else (AttemptState.PENDING_SEND,)
    )
    withdrawn = _delete_unsent(session, attempt_ids, owner=owner, states=states, now=now)
    session.commit()
    return withdrawn


def _delete_unsent(
    session: Session,
    attempt_ids: Collection[int],
    *,
    owner: str,
    states: tuple[AttemptState, ...],
    now: datetime | None,
) -> int:
    now = now or utcnow()
    connection = session.connection()
    withdrawn = 0
    for chunk in chunks(sorted(attempt_ids), IN_LIST_CHUNK):
        rows = connection.execute(
            _ATTEMPT.delete()
            .where(
                _ATTEMPT.c.id.in_(chunk),
                _ATTEMPT.c.owner == owner,
                _ATTEMPT.c.state.in_(states),
                *_WITHOUT_CALL,
            )
            .returning(_ATTEMPT.c.contact_id, _ATTEMPT.c.attempt_number)
        ).all()
        withdrawn += len(rows)
        for status, contact_ids in (
            (ContactStatus.PENDING, [cid for cid, number in rows if number == 1]),
            (ContactStatus.WAITING_RETRY, [cid for cid, number in rows if number > 1]),
        ):
            if contact_ids:
                connection.execute(
                    _CONTACT.update()
                    .where(
                        _CONTACT.c.id.in_(contact_ids),
                        _CONTACT.c.status == ContactStatus.DIALING,
                    )
                    .values(status=status, updated_at=now)
                )
    return withdrawn


def _key_type() -> sa.types.TypeEngine[datetime]:
    column_type: sa.types.TypeEngine[datetime] = _ATTEMPT.c.key_first_sent_at.type
    return column_type
