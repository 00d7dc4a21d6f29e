"""Outcome classes and what each one means, in one table: `OUTCOMES`.

Every `OutcomeClass` has exactly one `OutcomeTraits` row there, saying whether the outcome ends its
contact for good (final: never retried, not configurable), whether a person was connected, the
group the reports count it in (and so its colour in the charts), and its default retry rule, which
a campaign file's `retry:` may override key by key (`campaigner.campaign.RetryPolicy`).

Adding an outcome class is one member of `OutcomeClass` and one row of `OUTCOMES`; tests fail until
both exist. Which of Retell's `disconnection_reason` values lead to it is said in
`campaigner.dialer.outcomes`, the one place that reads Retell's reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, model_validator

from campaigner.durations import Duration

__all__ = [
    "CONNECTED_OUTCOMES",
    "FINAL_OUTCOMES",
    "OUTCOMES",
    "RESULT_GROUP_COLOURS",
    "UNCOUNTED_FOR_CAPS",
    "OutcomeClass",
    "OutcomeTraits",
    "ResultGroup",
    "RetryRule",
]


class OutcomeClass(StrEnum):
    """What an attempt's result means for the campaign; the retry policy is keyed by it.

    The dialer maps Retell's `disconnection_reason` (and post-call analysis) to one of these.
    """

    SUCCESS = "success"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    DECLINED = "declined"
    TRANSIENT_FAILURE = "transient_failure"
    CAPACITY = "capacity"
    CONNECTED_UNSUCCESSFUL = "connected_unsuccessful"
    CALLBACK_REQUESTED = "callback_requested"
    DNC_REQUEST = "dnc_request"
    INVALID_NUMBER = "invalid_number"
    PERMANENT_FAILURE = "permanent_failure"
    ACCOUNT_ERROR = "account_error"

    @property
    def is_final(self) -> bool:
        """True for outcomes that end a contact for good: never retried, not configurable."""
        return OUTCOMES[self].final

    @property
    def is_about_contact(self) -> bool:
        """False for outcomes that are the account's or the setup's doing (`OutcomeTraits`)."""
        return OUTCOMES[self].about_contact


class ResultGroup(StrEnum):
    """How reports group contacts by result, in the order they show them.

    The first seven are groups of outcome classes; the last four are contacts without an outcome
    yet: on the do-not-call list before any call, cancelled, never dialed, or in a call now.
    """

    SUCCESSFUL = "successful"
    CONNECTED_UNSUCCESSFUL = "connected_unsuccessful"
    DNC = "dnc"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"
    NOT_DIALED = "not_dialed"
    IN_PROGRESS = "in_progress"


RESULT_GROUP_COLOURS: Mapping[ResultGroup, str] = MappingProxyType(
    {
        ResultGroup.SUCCESSFUL: "#2e7d32",
        ResultGroup.CONNECTED_UNSUCCESSFUL: "#81c784",
        ResultGroup.DNC: "#6a1b9a",
        ResultGroup.VOICEMAIL: "#f9a825",
        ResultGroup.NO_ANSWER: "#90a4ae",
        ResultGroup.BUSY: "#ef6c00",
        ResultGroup.FAILED: "#c62828",
        ResultGroup.SUPPRESSED: "#4e342e",
        ResultGroup.CANCELLED: "#9e9e9e",
        ResultGroup.NOT_DIALED: "#d7ccc8",
        ResultGroup.IN_PROGRESS: "#42a5f5",
    }
)
"""The fill colour of each result group in the report's charts."""


class RetryRule(BaseModel):
    """What to do after an attempt of one outcome class (a rule of a campaign file's `retry:`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retry: bool = True
    delay: Duration
    max_attempts: int | None = Field(default=None, ge=1)
    counts_as_attempt: bool = True

    @model_validator(mode="after")
    def _retry_needs_a_delay(self) -> RetryRule:
        if self.retry and self.delay <= timedelta(0):
            raise ValueError("delay must be longer than zero when retry is true")
        return self


@dataclass(frozen=True)
class OutcomeTraits:
    """One row of `OUTCOMES`: what an outcome class means for its contact, reports and retries."""

    group: ResultGroup
    connected: bool
    """A person answered and spoke with the agent (the funnel's and the A/B test's "connected")."""
    default_retry: RetryRule | None
    """The rule a campaign file starts from; None for an outcome that has no rule to configure."""
    about_contact: bool = True
    """False: the account's or the setup's doing (no credit, the trunk's credentials refused),
    not the contact's: the attempt is not counted, counts toward no cap, and the contact is due
    again as soon as dialing goes on (after the pause such an outcome causes)."""

    @property
    def final(self) -> bool:
        """The outcome ends its contact for good: never retried, not configurable."""
        return self.default_retry is None and self.about_contact

    @property
    def colour(self) -> str:
        """The outcome's colour in the report's charts: its result group's."""
        return RESULT_GROUP_COLOURS[self.group]


def _final(group: ResultGroup, *, connected: bool = False) -> OutcomeTraits:
    return OutcomeTraits(group, connected=connected, default_retry=None)


def _retried(
    group: ResultGroup,
    delay: timedelta,
    *,
    connected: bool = False,
    retry: bool = True,
    counts_as_attempt: bool = True,
) -> OutcomeTraits:
    rule = RetryRule(retry=retry, delay=delay, counts_as_attempt=counts_as_attempt)
    return OutcomeTraits(group, connected=connected, default_retry=rule)


OUTCOMES: Mapping[OutcomeClass, OutcomeTraits] = MappingProxyType(
    {
        OutcomeClass.SUCCESS: _final(ResultGroup.SUCCESSFUL, connected=True),
        OutcomeClass.NO_ANSWER: _retried(ResultGroup.NO_ANSWER, timedelta(hours=4)),
        OutcomeClass.BUSY: _retried(ResultGroup.BUSY, timedelta(minutes=30)),
        OutcomeClass.VOICEMAIL: _retried(ResultGroup.VOICEMAIL, timedelta(days=1)),
        # The call rang and was refused: reports count it as not answered.
        OutcomeClass.DECLINED: _retried(ResultGroup.NO_ANSWER, timedelta(days=1)),
        OutcomeClass.TRANSIENT_FAILURE: _retried(ResultGroup.FAILED, timedelta(minutes=10)),
        # The call never rang (Retell's concurrency was full): it is not held against the contact.
        OutcomeClass.CAPACITY: _retried(
            ResultGroup.FAILED, timedelta(minutes=1), counts_as_attempt=False
        ),
        # Not retried unless a campaign file says so; then the delay is what it starts from.
        OutcomeClass.CONNECTED_UNSUCCESSFUL: _retried(
            ResultGroup.CONNECTED_UNSUCCESSFUL, timedelta(days=1), connected=True, retry=False
        ),
        OutcomeClass.CALLBACK_REQUESTED: _retried(
            ResultGroup.CONNECTED_UNSUCCESSFUL, timedelta(hours=4), connected=True
        ),
        OutcomeClass.DNC_REQUEST: _final(ResultGroup.DNC, connected=True),
        OutcomeClass.INVALID_NUMBER: _final(ResultGroup.FAILED),
        OutcomeClass.PERMANENT_FAILURE: _final(ResultGroup.FAILED),
        OutcomeClass.ACCOUNT_ERROR: OutcomeTraits(
            ResultGroup.FAILED, connected=False, default_retry=None, about_contact=False
        ),
    }
)
"""Every outcome class and what it means (see `OutcomeTraits`)."""

FINAL_OUTCOMES = frozenset(outcome for outcome, traits in OUTCOMES.items() if traits.final)
"""Outcomes that end a contact for good: never retried, not configurable."""

UNCOUNTED_FOR_CAPS = frozenset(
    {OutcomeClass.CAPACITY}
    | {outcome for outcome, traits in OUTCOMES.items() if not traits.about_contact}
)
"""Outcomes whose attempts count toward no per-number cap: the call never rang (capacity), or the
outcome is not about the contact."""

CONNECTED_OUTCOMES = frozenset(outcome for outcome, traits in OUTCOMES.items() if traits.connected)
"""Outcomes of a call on which a person answered and spoke with the agent."""
