"""How many calls campaigner may have in progress in a workspace: Retell's outbound capacity, less
the traffic campaigner does not place.

`get-concurrency` says how many outbound calls the account may hold (`concurrency_limit` less the
slots reserved for inbound) and how many are in progress now, campaigner's included. The gauge
reads it every so often (never per call) and keeps the difference between the account's calls
and those of every campaigner run dialing the workspace as other traffic, so the workspace's
slots for campaigner are `capacity - other traffic`. The runs of every campaign split them: each
holds a lease row in the store (`run_leases.hold`) with the slots it holds and its calls in
progress, and dials only within its slots.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from campaigner.dialer.clock import Clock
from campaigner.retell import RetellClient, RetellError
from campaigner.store.run_leases import RunShare

__all__ = ["CapacityGauge", "CapacityReading"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CapacityReading:
    """One `get-concurrency` answer, with our own calls taken out of the account's."""

    outbound: int = 0
    other_traffic: int = 0
    read_at: float = field(default=float("-inf"))


class CapacityGauge:
    """Retell's capacity for this campaign, re-read every `refresh_every` seconds.

    `count_ours` says how many of the account's calls in progress are this run's (followed calls
    and creates of unknown outcome), at the moment the answer arrives.
    """

    def __init__(
        self,
        *,
        client: RetellClient,
        clock: Clock,
        refresh_every: float,
        count_ours: Callable[[], int],
    ) -> None:
        self._client = client
        self._clock = clock
        self._refresh_every = refresh_every
        self._count_ours = count_ours
        self.reading = CapacityReading()
        self.held = 0
        # Other runs still hold slots that are this run's part: they give them up when they
        # renew their leases, so this run waits for them rather than stopping.
        self.short_of_part = False
        # The run's part of its campaign's slots is nothing: other traffic, or campaigns of
        # higher priority, hold the workspace.
        self.without_part = False
        self._others_in_progress = 0

    def hold(self, share: RunShare) -> None:
        """What the store gave this run: its slots, and the calls in progress of every other
        campaigner run dialing the workspace (campaigner's calls, not other traffic)."""
        self.held = share.slots
        self.short_of_part = share.slots < share.part
        self.without_part = share.part <= 0
        self._others_in_progress = share.others_in_progress

    def workspace_slots(self) -> int:
        """Calls all campaigner runs dialing the workspace may hold (negative when other traffic
        took more than all): what the runs split through their leases."""
        return self.reading.outbound - self.reading.other_traffic

    async def refresh(self, *, force: bool = False, required: bool = False) -> None:
        """Re-read Retell's concurrency if the last reading is old (or `force`).

        A failed read keeps the last reading and waits out the interval, unless `required`, when
        it raises (the run's first read: a wrong key must stop the run, not leave it idling).
        """
        now = self._clock.monotonic()
        if not force and now - self.reading.read_at < self._refresh_every:
            return
        try:
            concurrency = await self._client.get_concurrency()
        except RetellError as error:
            if required:
                raise
            log.warning("could not read concurrency, keeping the last value: %s", error)
            self.reading = CapacityReading(
                self.reading.outbound, self.reading.other_traffic, read_at=now
            )
            return
        campaign_calls = self._count_ours() + self._others_in_progress
        self.reading = CapacityReading(
            outbound=concurrency.outbound_capacity or 0,
            other_traffic=max(0, (concurrency.current_concurrency or 0) - campaign_calls),
            read_at=now,
        )
