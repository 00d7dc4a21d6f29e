"""One task, one heap: everything that happens later in the simulator.

Call lifecycles, batch dispatch and post-call analysis are callbacks due at a virtual time. A single
asyncio task sleeps until the earliest is due (in real time, scaled by the clock's speed) and runs
it; there is no task per call, so tens of thousands of live calls cost one heap entry each. On a
manual clock the task only runs what is already due, and `Scheduler.advance` walks the clock
forward event by event so each callback sees the time it was due at.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from retell_sim.clock import VirtualClock

__all__ = ["Scheduler", "SchedulerLag"]

_log = logging.getLogger(__name__)

Callback = Callable[[], None]
_YIELD_EVERY = 256


@dataclass
class SchedulerLag:
    """How late due events ran, in real milliseconds (only counted on a running clock)."""

    events: int = 0
    max_ms: float = 0.0
    total_ms: float = 0.0

    def record(self, lag_ms: float) -> None:
        """Count one event that ran ``lag_ms`` late."""
        self.events += 1
        self.total_ms += lag_ms
        self.max_ms = max(self.max_ms, lag_ms)

    @property
    def mean_ms(self) -> float:
        """Mean lag per event."""
        return self.total_ms / self.events if self.events else 0.0


class Scheduler:
    """A heap of callbacks due at virtual times, driven by one asyncio task."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self._heap: list[tuple[int, int, Callback]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.lag = SchedulerLag()

    @property
    def pending(self) -> int:
        """Number of callbacks not yet run."""
        return len(self._heap)

    def at(self, due_ms: int, callback: Callback) -> None:
        """Run ``callback`` when the virtual clock reaches ``due_ms``."""
        earliest = self._heap[0][0] if self._heap else None
        heapq.heappush(self._heap, (due_ms, next(self._order), callback))
        if earliest is None or due_ms < earliest:
            self._wake.set()

    def clear(self) -> None:
        """Forget every pending callback."""
        self._heap.clear()

    def start(self) -> None:
        """Start the driving task on the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sim-scheduler")

    async def stop(self) -> None:
        """Stop the driving task."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def advance(self, seconds: float) -> int:
        """Move the clock forward ``seconds``, running due callbacks at their own times.

        Returns the number of callbacks run.
        """
        if seconds < 0:
            raise ValueError(f"cannot move the clock backwards ({seconds} s)")
        target = self._clock.now_ms() + round(seconds * 1000)
        ran = 0
        while self._heap and self._heap[0][0] <= target:
            due, _, callback = heapq.heappop(self._heap)
            self._clock.jump_to(due)
            _run_guarded(callback)
            ran += 1
        self._clock.jump_to(target)
        self._wake.set()
        return ran

    async def _run(self) -> None:
        ran = 0
        while True:
            if not self._heap:
                await self._sleep(None)
                continue
            due = self._heap[0][0]
            now = self._clock.now_ms()
            if due > now:
                delay = None if self._clock.manual else self._clock.real_seconds(due - now)
                await self._sleep(delay)
                continue
            _, _, callback = heapq.heappop(self._heap)
            if not self._clock.manual:
                self.lag.record(self._clock.real_seconds(now - due) * 1000.0)
            _run_guarded(callback)
            ran += 1
            if ran % _YIELD_EVERY == 0:
                await asyncio.sleep(0)

    async def _sleep(self, delay: float | None) -> None:
        self._wake.clear()
        if delay is None:
            await self._wake.wait()
            return
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            pass


def _run_guarded(callback: Callback) -> None:
    # One broken callback must not stop every other call's lifecycle.
    try:
        callback()
    except Exception:
        _log.exception("simulator event failed")
