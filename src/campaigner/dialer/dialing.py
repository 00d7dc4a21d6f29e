"""The one interface the run's loop dials through, whatever the campaign's mode.

`DirectDialer` (`direct.py`) places one create per contact into the run's free slots;
`BatchDialer` (`batching.py`) hands due contacts to Retell as batch calls, which Retell dials
itself. The loop (`runner.py`) asks the same questions of both and never branches on the mode.
Hooks a mode has no use for are no-ops here.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Dialer"]


class Dialer(Protocol):
    """What the run's loop needs of a dialing mode."""

    # Webhook results are written to the store at most this often (seconds).
    apply_interval: float
    # Every result wakes the loop (a batch run cannot tell which one was its last).
    wakes_on_every_result: bool
    # The mode places calls into the run's slots: it needs Retell's concurrency read, and the
    # lease renewed on a fresh reading, before it dials.
    fills_slots: bool

    @property
    def calls_placed(self) -> int:
        """Calls this run had Retell place (batch mode: tasks Retell accepted)."""
        ...

    def start(self, campaign_id: int) -> None:
        """Begin on the campaign."""
        return None

    def take_over(self) -> None:
        """No other run of the campaign is live: take over what only a lone run may."""
        return None

    async def dial_due(self) -> int:
        """Dial due contacts; returns how many were started or claimed."""
        ...

    def refill(self) -> int:
        """Fill slots freed since the last turn from what is ready, without a store read;
        returns how many were started."""
        return 0

    def backlog(self) -> int | None:
        """Slots this mode could fill beyond those the run's calls take (None: as many as it
        gets): what sizes the campaign's part of the workspace."""
        return 0

    def busy(self) -> bool:
        """Calls are being placed, or may be placed by Retell, now."""
        ...

    def waiting(self) -> bool:
        """Contacts are due but must wait (for a slot, say): the run goes on."""
        return False

    def unresolved(self) -> int:
        """What this mode holds in doubt (beside the reconciler's attempts)."""
        return 0

    async def reconcile(self) -> None:
        """Resolve what `unresolved` counts."""
        return None

    async def collect(self) -> None:
        """Bring home results no followed call delivers (batch calls)."""
        return None

    def record_sent(self) -> None:
        """Write what Retell answered since the last turn, before results are applied."""
        return None

    def results_applied(self) -> None:
        """Results were applied: what this mode read of the store may be stale."""
        return None

    def stop_dialing(self) -> None:
        """The campaign stopped dialing (paused, out of time): give back what is ready."""
        return None

    def forget_owned(self) -> None:
        """The run lost its lease: what it held is no longer its own."""
        return None

    async def close(self) -> None:
        """The run ends: stop sending, and give back everything not sent."""
        return None

    def idle_reason(self) -> str | None:
        """Why the run stops with nothing due, when this mode knows more than that."""
        return None
