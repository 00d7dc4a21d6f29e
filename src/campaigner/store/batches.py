"""Batch calls: a batch and its tasks' attempts, sent or failed, and how far they got."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar
from typing_extensions import TypedDict

from campaigner.store import attempts
from campaigner.store.attempts import AttemptPlan
from campaigner.store.models import AttemptState, BatchState, BatchSubmission, CallAttempt, Contact
from campaigner.store.types import utcnow

__all__ = [
    "BatchProgress",
    "create",
    "expire_undialed",
    "last_dialed_at",
    "mark_send_failed",
    "mark_sent",
    "progress",
    "unfinished",
]


def create(
    *,
    session: Session,
    campaign_id: int,
    contacts: Sequence[Contact],
    lease_owner: str,
    from_number: str,
    timezone: str,
    variant: str | None,
    agent_id: str,
    agent_version: int | None,
    trigger_at: datetime | None,
    call_time_window: dict[str, Any],
    now: datetime | None = None,
) -> tuple[BatchSubmission, list[CallAttempt]] | None:
    """Record a batch and one attempt per leased contact, to commit before the batch is requested.

    `attempts.create` in the batch's transaction: each contact still leased by `lease_owner`
    becomes `dialing` and gets its next attempt (with `batch_id`); contacts whose lease was lost
    are left out. Returns the batch and the attempts in the order of `contacts`, or None (nothing
    written) when no lease was still held.
    """
    now = now or utcnow()
    batch = BatchSubmission(
        campaign_id=campaign_id,
        from_number=from_number,
        timezone=timezone,
        variant=variant,
        task_count=len(contacts),
        trigger_at=trigger_at,
        call_time_window=call_time_window,
        created_at=now,
    )
    session.add(batch)
    session.flush()
    plans = [
        AttemptPlan(contact, agent_id, agent_version, from_number, variant, batch.id)
        for contact in contacts
    ]
    written = attempts.create(session=session, plans=plans, lease_owner=lease_owner, now=now)
    if not written:
        # No lease was left: the batch row goes too, so the unit of work writes nothing.
        session.delete(batch)
        session.flush()
        return None
    if len(written) != batch.task_count:
        batch.task_count = len(written)
        session.add(batch)
        session.flush()
    return batch, written


_UNANSWERED_ATTEMPT_STATES = (AttemptState.PENDING_SEND, AttemptState.AMBIGUOUS)


def mark_sent(
    *,
    session: Session,
    batch_id: int,
    retell_batch_id: str | None,
    sent_at: datetime | None = None,
) -> None:
    """Record that Retell has the batch (its id, when known) and its tasks' attempts.

    `retell_batch_id` is None for a batch whose create answer was lost but whose calls were found;
    an id already stored (by another run that got the answer) is kept.
    """
    sent_at = sent_at or utcnow()
    values: dict[str, Any] = {"state": BatchState.SENT, "sent_at": sent_at}
    if retell_batch_id is not None:
        values["retell_batch_id"] = retell_batch_id
    session.exec(
        sa.update(BatchSubmission).where(col(BatchSubmission.id) == batch_id).values(**values)
    )
    session.exec(
        sa.update(CallAttempt)
        .where(
            col(CallAttempt.batch_id) == batch_id,
            col(CallAttempt.state).in_(_UNANSWERED_ATTEMPT_STATES),
        )
        .values(state=AttemptState.SENT, sent_at=sent_at)
    )


def mark_send_failed(
    *, session: Session, batch_id: int, ambiguous: bool, detail: str
) -> list[CallAttempt]:
    """Record a create-batch-call that failed, on the batch and its attempts.

    `ambiguous=True`: the batch may exist; its attempts stay live until it is reconciled.
    `ambiguous=False`: no batch exists; its attempts become `error` (settle them in the same
    transaction, so a crash cannot leave their contacts `dialing`). Returns the attempts changed.
    A batch another run has meanwhile recorded as sent is left as it is.
    """
    session.exec(
        sa.update(BatchSubmission)
        .where(
            col(BatchSubmission.id) == batch_id,
            col(BatchSubmission.state).in_([BatchState.PENDING_SEND, BatchState.AMBIGUOUS]),
        )
        .values(state=BatchState.AMBIGUOUS if ambiguous else BatchState.FAILED)
    )
    return _mark_attempts(
        session,
        select(CallAttempt).where(
            col(CallAttempt.batch_id) == batch_id,
            col(CallAttempt.state).in_(_UNANSWERED_ATTEMPT_STATES),
        ),
        AttemptState.AMBIGUOUS if ambiguous else AttemptState.ERROR,
        detail,
    )


def expire_undialed(*, session: Session, batch_id: int, detail: str) -> list[CallAttempt]:
    """End the attempts of a sent batch that Retell never dialed: no call, not final. They become
    `error` with `detail`, so their numbers are no longer in a live call; settle them in the same
    transaction. Flushes only; returns the attempts changed."""
    return _mark_attempts(
        session,
        select(CallAttempt).where(
            col(CallAttempt.batch_id) == batch_id,
            col(CallAttempt.state) == AttemptState.SENT,
            col(CallAttempt.retell_call_id).is_(None),
            col(CallAttempt.finalized).is_(False),
        ),
        AttemptState.ERROR,
        detail,
    )


def last_dialed_at(*, session: Session, batch_id: int) -> datetime | None:
    """The latest time a call of the batch is known to have started, ended or had its analysis
    recorded, or None: how recently Retell was seen dialing the batch, across runs."""
    latest = session.exec(
        select(
            sa.func.max(col(CallAttempt.start_timestamp)),
            sa.func.max(col(CallAttempt.end_timestamp)),
            sa.func.max(col(CallAttempt.analysis_at)),
        ).where(col(CallAttempt.batch_id) == batch_id)
    ).one()
    return max((moment for moment in latest if moment is not None), default=None)


def _mark_attempts(
    session: Session, attempts: SelectOfScalar[CallAttempt], state: AttemptState, detail: str
) -> list[CallAttempt]:
    changed = list(session.exec(attempts))
    for attempt in changed:
        attempt.state = state
        attempt.error_detail = detail
        session.add(attempt)
    session.flush()
    return changed


def unfinished(*, session: Session, campaign_id: int) -> list[BatchSubmission]:
    """The campaign's batches that Retell has or may have, with attempts not final yet."""
    unfinished = sa.exists().where(
        col(CallAttempt.batch_id) == col(BatchSubmission.id), col(CallAttempt.finalized).is_(False)
    )
    return list(
        session.exec(
            select(BatchSubmission)
            .where(
                col(BatchSubmission.campaign_id) == campaign_id,
                col(BatchSubmission.state) != BatchState.FAILED,
                unfinished,
            )
            .order_by(col(BatchSubmission.id))
        )
    )


class BatchProgress(TypedDict):
    """One batch of a campaign and how far its tasks got (`progress`)."""

    batch_id: int
    retell_batch_id: str | None
    state: str
    timezone: str
    variant: str | None
    trigger_at: datetime | None
    created_at: datetime
    submitted: int
    dialed: int
    connected: int
    finished: int


def progress(*, session: Session, campaign_id: int) -> list[BatchProgress]:
    """Every batch of the campaign with its tasks submitted, dialed (a call exists), connected
    (the call was answered) and finished (the attempt is settled), oldest first."""
    connected = sa.case(
        (col(CallAttempt.state).in_([AttemptState.ONGOING, AttemptState.ENDED]), 1), else_=0
    )
    counts = {
        batch_id: (submitted, dialed, int(answered or 0), int(finished or 0))
        # Five columns: more than sqlmodel's typed select() takes, so on the connection.
        for batch_id, submitted, dialed, answered, finished in session.connection()
        .execute(
            sa.select(
                col(CallAttempt.batch_id),
                sa.func.count(),
                sa.func.count(col(CallAttempt.retell_call_id)),
                sa.func.sum(connected),
                sa.func.sum(sa.case((col(CallAttempt.finalized), 1), else_=0)),
            )
            .where(
                col(CallAttempt.campaign_id) == campaign_id, col(CallAttempt.batch_id).is_not(None)
            )
            .group_by(col(CallAttempt.batch_id))
        )
        .all()
    }
    batches = session.exec(
        select(BatchSubmission)
        .where(col(BatchSubmission.campaign_id) == campaign_id)
        .order_by(col(BatchSubmission.id))
    )
    progress = []
    for batch in batches:
        assert batch.id is not None
        submitted, dialed, answered, finished = counts.get(batch.id, (0, 0, 0, 0))
        progress.append(
            BatchProgress(
                batch_id=batch.id,
                retell_batch_id=batch.retell_batch_id,
                state=batch.state.value,
                timezone=batch.timezone,
                variant=batch.variant,
                trigger_at=batch.trigger_at,
                created_at=batch.created_at,
                submitted=submitted,
                dialed=dialed,
                connected=answered,
                finished=finished,
            )
        )
    return progress
