from __future__ import annotations

import asyncio
import itertools

import pytest

from campaigner.dialer.pacing import TokenBucket
from tests.dialer.fakes import FakeClock


async def test_steady_rate_is_never_exceeded() -> None:
    clock = FakeClock()
    bucket = TokenBucket(5.0, clock=clock)
    start = clock.mono
    times = []
    for _ in range(51):
        await bucket.acquire()
        times.append(clock.mono)
    assert times[-1] - start == pytest.approx(10.0)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) == pytest.approx(0.2)


async def test_burst_allows_a_short_run_then_paces() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, burst=4, clock=clock)
    for _ in range(4):
        await bucket.acquire()
    assert clock.sleeps == []
    await bucket.acquire()
    assert clock.sleeps == [pytest.approx(0.5)]


async def test_concurrent_waiters_share_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, clock=clock)
    start = clock.mono
    await asyncio.gather(*(bucket.acquire() for _ in range(21)))
    assert clock.mono - start == pytest.approx(2.0)


async def test_throttle_blocks_for_retry_after_and_halves_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(4.0, clock=clock)
    await bucket.acquire()
    bucket.throttled(retry_after=3.0)
    assert bucket.rate == 2.0
    before = clock.mono
    await bucket.acquire()
    assert clock.mono - before == pytest.approx(3.0)


async def test_rate_recovers_after_successes_but_not_past_the_maximum() -> None:
    bucket = TokenBucket(4.0, clock=FakeClock())
    bucket.throttled()
    bucket.throttled()
    assert bucket.rate == 1.0
    for _ in range(100):
        bucket.succeeded()
    assert bucket.rate == 4.0


def test_rate_has_a_floor_and_must_be_positive() -> None:
    bucket = TokenBucket(16.0, clock=FakeClock())
    for _ in range(20):
        bucket.throttled(retry_after=0)
    assert bucket.rate == 1.0
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0, clock=FakeClock())
