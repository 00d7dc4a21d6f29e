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

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaigner.campaign import OutcomeClass
from campaigner.outcomes import UNCOUNTED_FOR_CAPS
from campaigner.store.bulk import chunks
from campaigner.store.errors import StoreError
from campaigner.store.models import (
    CLAIMABLE_STATUSES,
    LIVE_ATTEMPT_STATES,
    AttemptState,
    CallAttempt,
    Campaign,
    Contact,
    ContactStatus,
)
from campaigner.store.results import IN_LIST_CHUNK
from campaigner.store.types import utcnow

__all__ = [
    "AttemptPlan",
    "CallOnRecord",
    "awaiting_analysis",
    "calls_on_record",
    "calls_to_number_since",
    "claim_first_sends",
    "claim_resend",
    "create",
    "get",
    "in_doubt",
    "live_call_ids",
    "mark_send_failed",
    "mark_sent",
    "owners_without_call",
    "take_over",
    "unfinished",
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
    """Take the right to send these written attempts' creates, for the first time; commit
    before sending them.

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
    return claimed


def claim_resend(
    *, session: Session, attempt_id: int, owner: str, key_used_since: datetime
) -> bool:
    """Take the right to send an attempt in doubt again with its own key; commit before
    the resend.

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
    `live_owners` (it stopped, died, or lost its lease).

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
    return sorted(attempt_id for attempt_id, state in taken if state == AttemptState.AMBIGUOUS)


def withdraw_unsent(
    *,
    session: Session,
    attempt_ids: Collection[int],
    owner: str,
    claimed: bool = False,
    now: datetime | None = None,
) -> int:
    """Take back attempts `owner` wrote whose create was never handed to Retell.

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


def _saved_id(row: Contact | Campaign) -> int:
    if row.id is None:
        raise StoreError(f"this {type(row).__name__} has not been saved yet")
    return row.id


@dataclass(frozen=True)
class AttemptPlan:
    """The next attempt to write for a leased contact: who calls it, from which number."""

    contact: Contact
    agent_id: str
    agent_version: int | None
    from_number: str
    variant: str | None = None
    batch_id: int | None = None


def create(
    *,
    session: Session,
    plans: Sequence[AttemptPlan],
    lease_owner: str,
    now: datetime | None = None,
) -> list[CallAttempt]:
    """Write the next attempt for each leased contact, with fresh idempotency keys, in one
    transaction.

    Must be committed before the create requests are sent: after a crash the row (and its key) is
    how a call is found again. The contacts become `dialing` and their leases are released. A
    contact whose lease is no longer `lease_owner`'s (it expired and another worker claimed it)
    gets no attempt: that worker dials, this one must not. Returns the attempts written, in plan
    order, as objects outside the session (the contacts given are not refreshed either).
    """
    now = now or utcnow()
    session.flush()
    connection = session.connection()
    contacts = _CONTACT.c
    attempts = _ATTEMPT
    taken: set[int] = set()
    for chunk in chunks(sorted(_saved_id(plan.contact) for plan in plans), IN_LIST_CHUNK):
        taken.update(
            connection.execute(
                sa.update(_CONTACT)
                .where(
                    contacts.id.in_(chunk),
                    contacts.lease_owner == lease_owner,
                    contacts.status.in_(CLAIMABLE_STATUSES),
                )
                .values(
                    status=ContactStatus.DIALING,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
                .returning(contacts.id)
            ).scalars()
        )
    if not taken:
        return []
    previous: dict[int, int] = {}
    for chunk in chunks(sorted(taken), IN_LIST_CHUNK):
        rows = connection.execute(
            sa.select(attempts.c.contact_id, sa.func.max(attempts.c.attempt_number))
            .where(attempts.c.contact_id.in_(chunk))
            .group_by(attempts.c.contact_id)
        )
        previous.update((contact_id, number) for contact_id, number in rows)
    written = [
        CallAttempt(
            campaign_id=plan.contact.campaign_id,
            contact_id=plan.contact.id,
            attempt_number=previous.get(_saved_id(plan.contact), 0) + 1,
            idempotency_key=f"campaigner-{uuid4().hex}",
            batch_id=plan.batch_id,
            variant=plan.variant,
            agent_id=plan.agent_id,
            agent_version=plan.agent_version,
            from_number=plan.from_number,
            to_number=plan.contact.phone_e164,
            created_at=now,
            owner=lease_owner,
        )
        for plan in plans
        if plan.contact.id in taken
    ]
    ids = connection.execute(
        sa.insert(attempts).returning(attempts.c.id, sort_by_parameter_order=True),
        [attempt.model_dump(exclude={"id"}) for attempt in written],
    ).scalars()
    for attempt, attempt_id in zip(written, ids, strict=True):
        attempt.id = attempt_id
    return written


def mark_sent(
    *, session: Session, sent: Sequence[tuple[int, str]], sent_at: datetime | None = None
) -> None:
    """Record the call ids Retell gave for attempts' create requests ((attempt id, call id)
    pairs)."""
    if not sent:
        return
    attempts = _ATTEMPT
    session.flush()
    session.connection().execute(
        sa.update(attempts)
        .where(
            attempts.c.id == sa.bindparam("b_id"),
            attempts.c.retell_call_id.is_(None),
            # Not IN (...): an executemany statement cannot expand a list.
            sa.or_(
                attempts.c.state == AttemptState.PENDING_SEND,
                attempts.c.state == AttemptState.AMBIGUOUS,
            ),
        )
        .values(
            retell_call_id=sa.bindparam("b_call_id"),
            state=AttemptState.SENT,
            sent_at=sent_at or utcnow(),
        ),
        [{"b_id": attempt_id, "b_call_id": call_id} for attempt_id, call_id in sent],
    )


def mark_send_failed(
    *,
    session: Session,
    attempt_id: int,
    ambiguous: bool,
    detail: str,
    outcome_class: OutcomeClass | None = None,
) -> None:
    """Record a create request that failed.

    `ambiguous=True`: the request may have placed a call (timeout, lost connection): the attempt
    must be reconciled before the contact is dialed again. `ambiguous=False`: Retell refused it and
    no call exists (state `error`, with the outcome class the dialer chose).
    """
    session.exec(
        sa.update(CallAttempt)
        .where(
            col(CallAttempt.id) == attempt_id,
            col(CallAttempt.state).in_([AttemptState.PENDING_SEND, AttemptState.AMBIGUOUS]),
        )
        .values(
            state=AttemptState.AMBIGUOUS if ambiguous else AttemptState.ERROR,
            error_detail=detail,
            outcome_class=outcome_class,
        )
    )


def unfinished(*, session: Session, campaign_id: int) -> list[CallAttempt]:
    """Attempts with a Retell call that are not final yet: the calls a dialer has to follow."""
    return list(
        session.exec(
            select(CallAttempt)
            .where(
                CallAttempt.campaign_id == campaign_id,
                col(CallAttempt.retell_call_id).is_not(None),
                col(CallAttempt.finalized).is_(False),
            )
            .order_by(col(CallAttempt.id))
        )
    )


def live_call_ids(*, session: Session, campaign_id: int) -> list[str]:
    """The Retell call ids of the campaign's calls that may still be in progress, by attempt id:
    attempts with a call whose state is live (second calls Retell placed for an attempt too).

    As far as the store knows: a call that ended since the last sync is still among them.
    """
    rows = session.connection().execute(
        sa.select(_ATTEMPT.c.retell_call_id)
        .where(
            _ATTEMPT.c.campaign_id == campaign_id,
            _ATTEMPT.c.state.in_(LIVE_ATTEMPT_STATES),
            _ATTEMPT.c.retell_call_id.is_not(None),
        )
        .order_by(_ATTEMPT.c.id)
    )
    return list(rows.scalars())


def awaiting_analysis(
    *, session: Session, campaign_id: int, ended_since: datetime
) -> list[CallAttempt]:
    """Settled attempts whose call connected and ended after `ended_since` with no post-call
    analysis stored yet: a run that stopped before the analysis came leaves them to the next."""
    return list(
        session.exec(
            select(CallAttempt)
            .where(
                CallAttempt.campaign_id == campaign_id,
                col(CallAttempt.end_timestamp) > ended_since,
                col(CallAttempt.retell_call_id).is_not(None),
                col(CallAttempt.finalized).is_(True),
                CallAttempt.state == AttemptState.ENDED,
                col(CallAttempt.analysis_at).is_(None),
            )
            .order_by(col(CallAttempt.id))
        )
    )


def calls_to_number_since(
    *, session: Session, numbers: Collection[str], since: datetime
) -> dict[str, int]:
    """Attempts to each number since `since`, across ALL campaigns (for per-number caps).

    An attempt counts from when it was written or, if later, when its call started: a batch
    task is written when its batch is sent, and Retell may dial it hours later. (Until Retell
    has dialed it, the task is a live attempt, and a number in one is not claimed at all.)
    Attempts that never rang are not counted: those that failed for lack of capacity, and creates
    Retell refused (`error` without a call id: a refused batch is sent again in halves, and each
    of its tasks would otherwise use up a call of its number's day); nor are those whose outcome
    is not about the contact (`UNCOUNTED_FOR_CAPS`: the account ran out of credit, say). Numbers
    without attempts are absent from the result.
    """
    counts: dict[str, int] = {}
    for chunk in chunks(sorted(set(numbers)), IN_LIST_CHUNK):
        rows = session.exec(
            select(col(CallAttempt.to_number), sa.func.count())
            .where(
                col(CallAttempt.to_number).in_(chunk),
                sa.or_(
                    col(CallAttempt.created_at) >= since,
                    col(CallAttempt.start_timestamp) >= since,
                ),
                sa.or_(
                    col(CallAttempt.outcome_class).is_(None),
                    col(CallAttempt.outcome_class).not_in(sorted(UNCOUNTED_FOR_CAPS)),
                ),
                sa.or_(
                    col(CallAttempt.retell_call_id).is_not(None),
                    col(CallAttempt.state) != AttemptState.ERROR,
                ),
            )
            .group_by(col(CallAttempt.to_number))
        ).all()
        counts.update(dict(rows))
    return counts


def get(*, session: Session, attempt_id: int) -> CallAttempt | None:
    """The attempt with this id, or None."""
    return session.get(CallAttempt, attempt_id)
