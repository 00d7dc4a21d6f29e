"""Test doubles shared by the dialer tests."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from retell_sim import SimulatorHandle


class FakeClock:
    """Wall and monotonic time that move only when someone sleeps (or a test advances them)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.wall = start or datetime(2026, 3, 4, 17, 0, tzinfo=UTC)
        self.mono = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)


class SimulatorClock:
    """Wall time read from a simulator's virtual clock, so calling windows and retry times follow
    the simulated day; monotonic time and sleeps stay real (the runner waits in real time)."""

    def __init__(self, sim: SimulatorHandle) -> None:
        self._sim = sim

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._sim.simulator.clock.now_ms() / 1000, UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
