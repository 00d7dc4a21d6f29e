"""Pacing creates to Retell's calls-per-second limit, slowing down when Retell says so.

Retell dials outbound calls at a per-provider rate (1 call per second by default). `TokenBucket`
keeps creates under that rate; a 429 halves the rate and blocks for the `Retry-After` Retell gave,
and each success then wins back a twentieth of the configured rate, so a campaign settles just
under whatever rate the account really has. Waiters are served in arrival order.
"""

from __future__ import annotations

import asyncio

from campaigner.dialer.clock import Clock, SystemClock

__all__ = ["TokenBucket"]


class TokenBucket:
    """At most `rate` acquisitions per second on average, bursts of at most `burst`."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Clock | None = None,
        min_rate_share: float = 1 / 16,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        self.max_rate = rate
        self.rate = rate
        self.burst = max(1.0, burst)
        self._min_rate = rate * min_rate_share
        self._clock = clock or SystemClock()
        self._tokens = self.burst
        self._updated = self._clock.monotonic()
        self._blocked_until = 0.0
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> None:
        """Wait for the right to send one create."""
        async with self._lock:
            while True:
                now = self._clock.monotonic()
                self._refill(now)
                wait = max(self._blocked_until - now, (1 - self._tokens) / self.rate)
                if wait <= 0:
                    self._tokens -= 1
                    return
                await self._clock.sleep(wait)

    def throttled(self, retry_after: float | None = None) -> None:
        """Retell answered 429: halve the rate and hold every sender for `retry_after` seconds."""
        now = self._clock.monotonic()
        self._refill(now)
        self.rate = max(self._min_rate, self.rate / 2)
        pause = retry_after if retry_after is not None else 1 / self.rate
        self._blocked_until = max(self._blocked_until, now + pause)
        self._tokens = 0.0

    def succeeded(self) -> None:
        """A create went through: win back part of the configured rate."""
        if self.rate < self.max_rate:
            now = self._clock.monotonic()
            self._refill(now)
            self.rate = min(self.max_rate, self.rate + self.max_rate / 20)
