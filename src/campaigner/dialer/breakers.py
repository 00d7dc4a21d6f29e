"""When a campaign must stop dialing on its own: budget spent, a spike of failed dials, the account.

`Breakers` only decides: it is told outcomes, costs and refusals, and answers with the reason to
pause (once per trip). Pausing the campaign in the store is the run's job (`runner.py`), so the
decision is testable without a store, a clock or Retell.
"""

from __future__ import annotations

import re
from collections import deque

from campaigner.campaign import OutcomeClass
from campaigner.dialer.outcomes import REASON_OUTCOMES
from campaigner.retell import Call

__all__ = ["REPEATED_REFUSALS_TRIP", "TRUNK_FAILURE_REASONS", "Breakers"]

TRUNK_FAILURE_REASONS = frozenset(
    {"dial_failed", "marked_as_spam", "sip_routing_error", "telephony_provider_unavailable"}
)
"""Endings that say the caller ID or the trunk is in trouble rather than the contact: a spike
of them trips the circuit breaker."""

REPEATED_REFUSALS_TRIP = 3
"""The same refusal of a create this many times in a row (numbers aside) is the campaign's setup,
not its contacts: it pauses rather than settling contact after contact."""

# Numbers in a refusal's message are the contact's: masked to compare refusals.
_DIGITS = re.compile(r"\+?\d[\d\s().-]*\d|\d")


class Breakers:
    """The budget and the circuit breaker of one run.

    `dial_failed_trip` trunk failures (`TRUNK_FAILURE_REASONS`) among the last
    `dial_failed_window` outcomes trip the breaker; any account error trips it at once, and so
    do `REPEATED_REFUSALS_TRIP` identical refusals in a row; a campaign with `budget_cents` trips
    once its spend reaches it (the spend starts at what earlier runs spent).
    """

    def __init__(
        self,
        *,
        budget_cents: int | None,
        spent_cents: float,
        dial_failed_window: int,
        dial_failed_trip: int,
    ) -> None:
        self._budget_cents = budget_cents
        self.spent_cents = spent_cents
        self._dial_failed_trip = dial_failed_trip
        self._recent: deque[tuple[OutcomeClass, str | None]] = deque(maxlen=dial_failed_window)
        self._tripped: str | None = None
        self._last_refusal = ""
        self._same_refusals = 0

    def watches(self, call: Call) -> bool:
        """A call's end a breaker counts (a failed dial, an account error), or any end when the
        campaign has a budget: the run applies such a result at once, so that no more calls go
        out in the meantime than when every result was applied as it came."""
        if not call.is_terminal:
            return False
        reason = call.disconnection_reason
        return (
            self._budget_cents is not None
            or reason in TRUNK_FAILURE_REASONS
            or (reason is not None and REASON_OUTCOMES.get(reason) is OutcomeClass.ACCOUNT_ERROR)
        )

    def note_outcome(self, outcome: OutcomeClass, reason: str | None) -> None:
        """A settled attempt's outcome: account errors trip at once, failed dials by count."""
        if outcome is OutcomeClass.ACCOUNT_ERROR:
            self.trip(f"a call ended with an account error ({reason or 'refused'})")
            return
        self._recent.append((outcome, reason))
        failed = [why for _, why in self._recent if why in TRUNK_FAILURE_REASONS]
        if len(failed) >= self._dial_failed_trip:
            reasons = ", ".join(sorted(set(filter(None, failed))))
            self.trip(
                f"{len(failed)} of the last {len(self._recent)} calls failed to connect "
                f"({reasons}): the caller ID may be flagged as spam, or the trunk is failing"
            )
            self._recent.clear()

    def note_refusal(self, message: str) -> None:
        """Retell refused a create with `message`, for a reason that may concern the contact:
        the same refusal `REPEATED_REFUSALS_TRIP` times in a row is the setup's, and trips."""
        shape = _DIGITS.sub("#", message)
        self._same_refusals = self._same_refusals + 1 if shape == self._last_refusal else 1
        self._last_refusal = shape
        if self._same_refusals >= REPEATED_REFUSALS_TRIP:
            self.trip(
                f"Retell refused {self._same_refusals} calls in a row with the same answer, "
                f"which is the campaign's setup rather than its contacts: {message}"
            )
            self._same_refusals = 0

    def note_placed(self) -> None:
        """A create was answered with a call: refusals are no longer in a row."""
        self._same_refusals = 0

    def note_cost(self, cents: float) -> None:
        """Calls' cost, as their results are applied."""
        self.spent_cents += cents
        budget = self._budget_cents
        if budget is not None and self.spent_cents >= budget:
            self.trip(f"budget reached: {self.spent_cents:.0f} of {budget} cents spent")

    def trip(self, reason: str) -> None:
        """Ask for a pause with `reason` (Retell refused the account, say)."""
        self._tripped = reason

    def take_trip(self) -> str | None:
        """The reason to pause, if a breaker tripped since the last call; then reset."""
        reason, self._tripped = self._tripped, None
        return reason
