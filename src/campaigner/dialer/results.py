"""Bringing a call's result home: the one path every view of a call goes through.

Polling (list-calls, get-call), webhooks and crash reconciliation all hand a Retell call to
`apply_call`, which records what Retell says on the attempt, decides the outcome class, and settles
the contact exactly once: a retry time, or a final outcome. A DNC request suppresses the number in
every campaign at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from campaigner.campaign import CampaignConfig, OutcomeClass
from campaigner.dialer.outcomes import classify_call
from campaigner.dialer.retries import next_attempt_time
from campaigner.retell import Call
from campaigner.store import (
    add_suppressions,
    count_attempts_with_outcome,
    finalize_attempt,
    get_contact,
    record_call_result,
    settle_contact,
)

__all__ = ["DNC_SOURCE", "AppliedCall", "apply_call", "settle_attempt"]

DNC_SOURCE = "retell:do-not-call"


@dataclass(frozen=True)
class AppliedCall:
    """What applying one view of a call changed."""

    attempt_id: int
    contact_id: int
    terminal: bool
    outcome: OutcomeClass | None
    settled_now: bool
    cost_cents: float
    next_attempt_at: datetime | None


def apply_call(
    session: Session,
    *,
    config: CampaignConfig,
    call: Call,
    now: datetime,
    analysis_timed_out: bool = False,
) -> AppliedCall | None:
    """Record a call on its attempt and settle the contact once its outcome is known. Flushes.

    Returns None for a call that is not one of this store's attempts.
    """
    outcome = classify_call(call, analysis_timed_out=analysis_timed_out)
    attempt = record_call_result(
        session=session,
        call=call.model_dump(mode="json", exclude_none=True),
        outcome_class=outcome,
        now=now,
    )
    if attempt is None or attempt.id is None:
        return None
    settled_now = False
    next_at: datetime | None = None
    if outcome is not None:
        settled_now, next_at = settle_attempt(
            session,
            config=config,
            attempt_id=attempt.id,
            contact_id=attempt.contact_id,
            outcome=outcome,
            now=now,
        )
    return AppliedCall(
        attempt_id=attempt.id,
        contact_id=attempt.contact_id,
        terminal=call.is_terminal,
        outcome=outcome,
        settled_now=settled_now,
        cost_cents=attempt.cost_cents or 0.0,
        next_attempt_at=next_at,
    )


def settle_attempt(
    session: Session,
    *,
    config: CampaignConfig,
    attempt_id: int,
    contact_id: int,
    outcome: OutcomeClass,
    now: datetime,
    blameless: bool = False,
) -> tuple[bool, datetime | None]:
    """Finalize an attempt with `outcome` and settle its contact, unless that already happened.

    Returns whether this call did it, and the contact's next attempt time. Safe to call twice and
    from two processes: only the one that flips the attempt's `finalized` flag settles the contact.
    `blameless` attempts (refused for reasons that have nothing to do with the contact, such as a
    billing problem) do not count and leave the contact due again at once.
    """
    if not finalize_attempt(session=session, attempt_id=attempt_id, outcome_class=outcome):
        return False, None
    next_at: datetime | None = now
    counted = False
    if not blameless:
        contact = get_contact(session=session, contact_id=contact_id)
        counted = outcome.is_final or config.retry.rule_for(outcome).counts_as_attempt
        next_at = next_attempt_time(
            config,
            outcome,
            attempts_made=contact.attempts_made + (1 if counted else 0),
            attempts_with_outcome=count_attempts_with_outcome(
                session=session, contact_id=contact_id, outcome=outcome
            ),
            now=now,
        )
        if outcome is OutcomeClass.DNC_REQUEST:
            # Heard on a call or refused by Retell's own list: no campaign dials it again.
            add_suppressions(
                session=session,
                entries=[(contact.phone_e164, f"do-not-call (attempt {attempt_id})", DNC_SOURCE)],
            )
    settle_contact(
        session=session,
        contact_id=contact_id,
        outcome=outcome,
        counted=counted,
        next_attempt_at=next_at,
        now=now,
    )
    return True, next_at
