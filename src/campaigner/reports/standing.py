"""Where a campaign stands when its report is made: its status, its settings in words, and the
contacts still to be called.

    standing(data).final              # no contact is left to call: every figure is final
    window_in_words(config.window)    # "mon, tue, wed, thu, fri, 09:00-20:00 in each ..."

A report made mid-way counts what happened so far; `Standing.final` says whether more will come,
and the A/B verdicts are marked provisional until it does (`campaigner.reports.figures`).
"""

from __future__ import annotations

from campaigner.campaign import CallWindow, CampaignConfig
from campaigner.durations import format_duration
from campaigner.outcomes import RetryRule
from campaigner.reports.frames import CampaignData
from campaigner.reports.headline import Standing
from campaigner.store import ContactStatus

__all__ = ["REMAINING_STATUSES", "retries_in_words", "standing", "window_in_words"]

REMAINING_STATUSES = (ContactStatus.PENDING, ContactStatus.WAITING_RETRY, ContactStatus.DIALING)
"""Contact statuses that may still change a figure: not called yet, waiting for a retry, in a
call."""


def standing(data: CampaignData) -> Standing:
    """The campaign's status and settings, and its contacts still to be called."""
    statuses = data.contacts["status"]
    waiting = statuses.isin([ContactStatus.PENDING, ContactStatus.WAITING_RETRY]).fillna(False)
    next_due = data.contacts.loc[waiting, "next_attempt_at"].min()
    config = data.config
    return Standing(
        status=data.status,
        status_reason=data.status_reason,
        description=config.description if config else "",
        window=window_in_words(config.window) if config else _UNKNOWN_SETTINGS,
        retries=retries_in_words(config) if config else [_UNKNOWN_SETTINGS],
        pending=int((statuses == ContactStatus.PENDING).sum()),
        waiting_retry=int((statuses == ContactStatus.WAITING_RETRY).sum()),
        in_call=int((statuses == ContactStatus.DIALING).sum()),
        next_due_at=next_due.to_pydatetime() if waiting.any() else None,
        final=not statuses.isin(list(REMAINING_STATUSES)).any(),
    )


# A configuration stored by another version of campaigner may not read as today's model.
_UNKNOWN_SETTINGS = "not known: the stored configuration is of another version of campaigner"


def window_in_words(window: CallWindow) -> str:
    """When calls may start: days, hours in each recipient's zone, and the days left out."""
    days = ", ".join(day.value for day in window.days)
    words = f"{days}, {window.start:%H:%M}-{window.end:%H:%M} in each recipient's time zone"
    excluded = [
        *([f"{window.holiday_calendar} public holidays"] if window.holiday_calendar else []),
        *(day.isoformat() for day in window.holidays),
    ]
    return f"{words}; not on {', '.join(excluded)}" if excluded else words


def retries_in_words(config: CampaignConfig) -> list[str]:
    """The attempts cap, then one line per outcome class that has a retry rule."""
    cap = config.caps.max_attempts_per_contact
    return [
        f"at most {cap} attempt{'s' if cap != 1 else ''} per contact",
        *(
            f"{outcome.value}: {_rule_in_words(rule)}"
            for outcome, rule in config.retry.root.items()
        ),
    ]


def _rule_in_words(rule: RetryRule) -> str:
    if not rule.retry:
        return "not retried"
    # max_attempts counts the attempts that ended so, the first included: 1 means no retry.
    if rule.max_attempts == 1:
        return "not retried (max_attempts 1: the first attempt that ends so is the last)"
    words = f"again after {format_duration(rule.delay)}"
    if rule.max_attempts is not None:
        words += f", until {rule.max_attempts} attempts ended so"
    if not rule.counts_as_attempt:
        words += " (not counted as an attempt)"
    return words
