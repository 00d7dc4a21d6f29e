"""Bringing calls' results home: the one path every view of a call goes through.

Polling (list-calls, get-call), webhooks and crash reconciliation all hand Retell calls to
`apply_calls` (in batches), which records what Retell says on each attempt, decides the outcome
class, and settles the contact exactly once: a retry time, or a final outcome. A DNC request
suppresses the number in every campaign at once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from campaigner.campaign import CampaignConfig, OutcomeClass
from campaigner.dialer.outcomes import classify_call
from campaigner.dialer.retries import next_attempt_time
from campaigner.retell import Call
from campaigner.store import (
    RECORDED_CALL_FIELDS,
    Session,
    Settlement,
    results,
    suppression,
)
from campaigner.store import attempts as store_attempts

__all__ = ["DNC_SOURCE", "AppliedCall", "apply_calls", "settle_attempts", "settle_unsent"]

DNC_SOURCE = "retell:do-not-call"
# As a set, which is what pydantic's `include` takes.
_RECORDED = set(RECORDED_CALL_FIELDS)


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
    # Its post-call analysis was stored before this view.
    analysed_before: bool


def apply_calls(
    session: Session,
    *,
    config: CampaignConfig,
    calls: Sequence[Call],
    now: datetime,
    analysis_timed_out: Collection[str] = (),
) -> list[AppliedCall | None]:
    """Record calls on their attempts and settle each contact once its outcome is known. Flushes.

    One result per call, in order: None for a call that is not one of this store's attempts.
    `analysis_timed_out` names calls whose post-call analysis will not be waited for any longer.
    """
    outcomes = [
        classify_call(call, analysis_timed_out=call.call_id in analysis_timed_out) for call in calls
    ]
    recorded = results.record_call_results(
        session=session,
        views=[
            # Only what is recorded: a webhook's call carries much more (transcript objects,
            # token usage), and dumping it all cost more than the statements.
            (call.model_dump(mode="json", exclude_none=True, include=_RECORDED), outcome)
            for call, outcome in zip(calls, outcomes, strict=True)
        ],
        now=now,
    )
    to_settle = {
        attempt.id: (attempt.contact_id, outcome)
        for attempt, outcome in zip(recorded, outcomes, strict=True)
        if attempt is not None and outcome is not None
    }
    settled = settle_attempts(session, config=config, attempts=to_settle, now=now)
    applied: list[AppliedCall | None] = []
    for call, attempt, outcome in zip(calls, recorded, outcomes, strict=True):
        if attempt is None:
            applied.append(None)
            continue
        # A call seen twice in one batch (call_ended, then call_analyzed) is settled by one view.
        settled_now = outcome is not None and attempt.id in settled
        next_at = settled.pop(attempt.id) if settled_now else None
        applied.append(
            AppliedCall(
                attempt_id=attempt.id,
                contact_id=attempt.contact_id,
                terminal=call.is_terminal,
                outcome=outcome,
                settled_now=settled_now,
                cost_cents=attempt.cost_cents or 0.0,
                next_attempt_at=next_at,
                analysed_before=attempt.analysed,
            )
        )
    return applied


def settle_attempts(
    session: Session,
    *,
    config: CampaignConfig,
    attempts: dict[int, tuple[int, OutcomeClass]],
    now: datetime,
    blameless: bool = False,
) -> dict[int, datetime | None]:
    """Finalize attempts (id: (contact id, outcome)) and settle their contacts, unless that
    already happened.

    Returns, for each attempt this call finalized, its contact's next attempt time. Safe to call
    twice and from two processes: only the one that flips an attempt's `finalized` flag settles
    the contact. `blameless` attempts (refused for reasons that have nothing to do with the
    contact, such as a billing problem), and attempts whose outcome is not about the contact
    (`OutcomeClass.is_about_contact`), do not count and leave the contact due again at once.
    """
    won = results.finalize_attempts(
        session=session,
        outcomes={attempt_id: outcome for attempt_id, (_, outcome) in attempts.items()},
    )
    if not won:
        return {}
    settlements: list[Settlement] = []
    next_times: dict[int, datetime | None] = {}
    suppress: list[tuple[str, str, str]] = []
    # An outcome that is not about the contact (the account ran out of credit) is blameless too.
    about_contact = {
        attempt_id
        for attempt_id in won
        if not blameless and attempts[attempt_id][1].is_about_contact
    }
    facts = (
        results.settling_facts(session=session, contact_ids=[attempts[a][0] for a in about_contact])
        if about_contact
        else {}
    )
    for attempt_id in sorted(won):
        contact_id, outcome = attempts[attempt_id]
        next_at: datetime | None = now
        counted = False
        if attempt_id in about_contact:
            contact = facts[contact_id]
            counted = outcome.is_final or config.retry.rule_for(outcome).counts_as_attempt
            next_at = next_attempt_time(
                config,
                outcome,
                attempts_made=contact.attempts_made + (1 if counted else 0),
                attempts_with_outcome=contact.attempts_by_outcome.get(outcome, 0),
                now=now,
            )
            if outcome is OutcomeClass.DNC_REQUEST:
                # Heard on a call or refused by Retell's own list: no campaign dials it again.
                suppress.append(
                    (contact.phone_e164, f"do-not-call (attempt {attempt_id})", DNC_SOURCE)
                )
        settlements.append(Settlement(contact_id, outcome, counted, next_at))
        next_times[attempt_id] = next_at
    if suppress:
        suppression.add(session=session, entries=suppress)
    results.settle_contacts(session=session, settlements=settlements, now=now)
    return next_times


def settle_unsent(
    session: Session,
    *,
    config: CampaignConfig,
    attempt_id: int,
    contact_id: int,
    outcome: OutcomeClass,
    detail: str,
    now: datetime,
    blameless: bool = False,
) -> bool:
    """An attempt whose create placed no call (Retell refused it, or it was lost for good):
    record why, and settle its contact. Returns whether this call settled it (see
    `settle_attempts`, also for `blameless`)."""
    store_attempts.mark_send_failed(
        session=session,
        attempt_id=attempt_id,
        ambiguous=False,
        detail=detail,
        outcome_class=outcome,
    )
    settled = settle_attempts(
        session,
        config=config,
        attempts={attempt_id: (contact_id, outcome)},
        now=now,
        blameless=blameless,
    )
    return bool(settled)
