"""The virtual clock, the event scheduler and the pacing primitives, in isolation."""

from __future__ import annotations

import asyncio

import pytest

from retell_sim.clock import VirtualClock
from retell_sim.limits import ConcurrencyPool, DialPacer, RateLimiter, burst_limit
from retell_sim.outcomes import Outcome
from retell_sim.records import CallRecord
from retell_sim.scheduler import Scheduler


class FakeMonotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_clock_runs_at_speed_and_only_jumps_forward() -> None:
    ticks = FakeMonotonic()
    clock = VirtualClock(speed=2, start_ms=1_000_000, monotonic=ticks)
    ticks.now += 1.5
    assert clock.now_ms() == 1_003_000
    clock.jump_to(1_010_000)
    assert clock.now_ms() == 1_010_000
    clock.jump_to(1_000_000)
    assert clock.now_ms() == 1_010_000
    assert clock.real_seconds(4000) == 2.0
    assert clock.elapsed_virtual_seconds() == 10.0


def test_manual_clock_stands_still() -> None:
    ticks = FakeMonotonic()
    clock = VirtualClock(speed=0, start_ms=5_000, monotonic=ticks)
    ticks.now += 60
    assert clock.now_ms() == 5_000
    assert clock.manual
    assert clock.real_seconds(1500) == 1.5
    with pytest.raises(ValueError, match="speed must be >= 0"):
        VirtualClock(speed=-1)


def test_advance_runs_events_in_order_at_their_own_time() -> None:
    clock = VirtualClock(speed=0, start_ms=0)
    scheduler = Scheduler(clock)
    seen: list[tuple[str, int]] = []

    def note(name: str) -> None:
        seen.append((name, clock.now_ms()))

    scheduler.at(3000, lambda: note("c"))
    scheduler.at(1000, lambda: (note("a"), scheduler.at(2000, lambda: note("b"))))
    scheduler.at(9000, lambda: note("late"))
    assert scheduler.advance(5) == 3
    assert seen == [("a", 1000), ("b", 2000), ("c", 3000)]
    assert clock.now_ms() == 5000
    assert scheduler.pending == 1
    with pytest.raises(ValueError, match="backwards"):
        scheduler.advance(-1)


def test_a_failing_event_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    clock = VirtualClock(speed=0, start_ms=0)
    scheduler = Scheduler(clock)
    ran: list[int] = []
    scheduler.at(1, lambda: 1 / 0)
    scheduler.at(2, lambda: ran.append(2))
    scheduler.advance(1)
    assert ran == [2]
    assert "simulator event failed" in caplog.text


async def test_running_clock_fires_events_in_real_time() -> None:
    clock = VirtualClock(speed=100, start_ms=0)
    scheduler = Scheduler(clock)
    fired = asyncio.Event()
    scheduler.at(clock.now_ms() + 1000, fired.set)  # 1 virtual second = 10 real ms
    scheduler.start()
    try:
        await asyncio.wait_for(fired.wait(), timeout=5)
    finally:
        await scheduler.stop()
    assert scheduler.lag.events == 1
    assert scheduler.lag.max_ms < 1000


async def test_manual_clock_still_runs_what_is_due_now() -> None:
    clock = VirtualClock(speed=0, start_ms=0)
    scheduler = Scheduler(clock)
    scheduler.start()
    fired = asyncio.Event()
    try:
        scheduler.at(0, fired.set)
        await asyncio.wait_for(fired.wait(), timeout=5)
    finally:
        await scheduler.stop()


def test_dial_pacer_allows_a_second_of_burst_then_spaces() -> None:
    pacer = DialPacer(cps=2)
    assert [pacer.take(0) for _ in range(4)] == [0, 0, 500, 1000]
    assert pacer.wait_ms(0) == 1500
    assert pacer.wait_ms(1500) == 0
    slow = DialPacer(cps=0.5)
    assert slow.take(0) == 0
    assert slow.wait_ms(100) == 1900


def test_rate_limiter_refills_per_second() -> None:
    ticks = FakeMonotonic()
    limiter = RateLimiter(2, monotonic=ticks)
    assert [limiter.check("k") for _ in range(2)] == [0, 0]
    assert limiter.check("k") == pytest.approx(0.5)
    assert limiter.check("other") == 0
    ticks.now += 0.5
    assert limiter.check("k") == 0
    assert RateLimiter(None).check("k") == 0


def _call(seq: int) -> CallRecord:
    return CallRecord(
        seq=seq,
        call_id=f"call_{seq}",
        call_type="phone_call",
        agent_id="agent",
        agent_version=0,
        agent_name=None,
        from_number="+14155550100",
        to_number="+14155550101",
        created_ms=0,
        outcome=Outcome("user_hangup", 0, 1000, False, "Neutral"),
    )


def test_pool_ceilings_peak_and_busy_seconds() -> None:
    clock = VirtualClock(speed=0, start_ms=0)
    pool = ConcurrencyPool(clock, limit=3, reserved_inbound=1, burst_enabled=False)
    first, second = _call(1), _call(2)
    pool.acquire(first)
    pool.acquire(second)
    assert not pool.has_room()
    with pytest.raises(RuntimeError):
        pool.acquire(_call(3))
    clock.jump_to(10_000)
    assert pool.busy_slot_seconds() == 20.0
    assert pool.release(first)
    assert not pool.release(first)
    clock.jump_to(15_000)
    assert pool.busy_slot_seconds() == 25.0
    assert pool.peak == 2
    assert burst_limit(20) == 60
    assert burst_limit(500) == 800
