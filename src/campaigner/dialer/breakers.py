"""When a campaign must stop dialing on its own: budget spent, a spike of failed dials, the account.

`Breakers` only decides: it is told outcomes, costs and refusals, and answers with the reason to
pause (once per trip). Pausing the campaign in the store is the run's job (`runner.py`), so the
decision is testable without a store, a clock or Retell.
"""

from __future__ import annotations

from collections import deque

from campaigner.campaign import OutcomeClass
from campaigner.dialer.outcomes import REASON_OUTCOMES
from campaigner.retell import Call

__all__ = ["Breakers"]


class Breakers:
    """The budget and the circuit breaker of one run.

    `dial_failed_trip` failed dials among the last `dial_failed_window` outcomes trip the
    breaker; any account error trips it at once; a campaign with `budget_cents` trips once its
    spend reaches it (the spend starts at what earlier runs spent).
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

    def watches(self, call: Call) -> bool:
        """A call's end a breaker counts (a failed dial, an account error), or any end when the
        campaign has a budget: the run applies such a result at once, so that no more calls go
        out in the meantime than when every result was applied as it came."""
        if not call.is_terminal:
            return False
        reason = call.disconnection_reason
        return (
            self._budget_cents is not None
            or reason == "dial_failed"
            or (reason is not None and REASON_OUTCOMES.get(reason) is OutcomeClass.ACCOUNT_ERROR)
        )

    def note_outcome(self, outcome: OutcomeClass, reason: str | None) -> None:
        """A settled attempt's outcome: account errors trip at once, failed dials by count."""
        if outcome is OutcomeClass.ACCOUNT_ERROR:
            self.trip(f"a call ended with an account error ({reason or 'refused'})")
            return
        self._recent.append((outcome, reason))
        failed = sum(1 for _, why in self._recent if why == "dial_failed")
        if failed >= self._dial_failed_trip:
            self.trip(
                f"{failed} of the last {len(self._recent)} calls failed to dial "
                "(dial_failed): the caller ID may be flagged as spam"
            )
            self._recent.clear()

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
