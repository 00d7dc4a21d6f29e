"""When a contact is called again after an attempt, from the campaign's retry policy."""

from __future__ import annotations

from datetime import datetime

from campaigner.campaign import CampaignConfig, OutcomeClass

__all__ = ["next_attempt_time"]


def next_attempt_time(
    config: CampaignConfig,
    outcome: OutcomeClass,
    *,
    attempts_made: int,
    attempts_with_outcome: int,
    now: datetime,
) -> datetime | None:
    """The earliest time of the next attempt, or None when the contact is finished.

    `attempts_made` counts the contact's counted attempts including this one;
    `attempts_with_outcome` counts its attempts that ended with `outcome`, this one included.
    Final outcomes are never retried; otherwise the outcome's rule decides, within
    `caps.max_attempts_per_contact` and the rule's own `max_attempts`. The calling window is
    applied later, when the contact is claimed.
    """
    rule = config.retry.rule_for(outcome)
    if not rule.retry:
        return None
    if rule.counts_as_attempt and attempts_made >= config.caps.max_attempts_per_contact:
        return None
    if rule.max_attempts is not None and attempts_with_outcome >= rule.max_attempts:
        return None
    return now + rule.delay
