"""The physical limits: concurrency slots, outbound calls per second, API requests per second.

- `ConcurrencyPool`: a call holds a slot from creation (registered, queued or ringing) through
  ``ongoing`` until it ends. Outbound may use ``limit - reserved_inbound`` slots (the burst limit
  instead of the limit when burst is on). Peak occupancy is tracked exactly.
- `DialPacer`: outbound dial starts per second of *virtual* time, per workspace, as a GCRA (a token
  bucket holding at most one second's worth of dials).
- `RateLimiter`: API requests per second of *real* time, per key, as a token bucket.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from retell_sim.clock import VirtualClock
from retell_sim.records import CallRecord

__all__ = ["ConcurrencyPool", "DialPacer", "RateLimiter", "burst_limit"]


def burst_limit(limit: int) -> int:
    """Retell's burst ceiling for a concurrency limit: min(3L, L + 300)."""
    return min(3 * limit, limit + 300)


class ConcurrencyPool:
    """Workspace concurrency: who holds a slot, since when, and the peak ever held."""

    def __init__(
        self, clock: VirtualClock, *, limit: int, reserved_inbound: int, burst_enabled: bool
    ) -> None:
        self._clock = clock
        self.limit = limit
        self.reserved_inbound = reserved_inbound
        self.burst_enabled = burst_enabled
        self.current = 0
        self.peak = 0
        self._closed_busy_ms = 0
        self._open_since_sum = 0

    @property
    def ceiling(self) -> int:
        """Slots all calls together may hold."""
        return burst_limit(self.limit) if self.burst_enabled else self.limit

    @property
    def outbound_ceiling(self) -> int:
        """Slots outbound calls may hold."""
        return self.ceiling - self.reserved_inbound

    def has_room(self, keep_free: int = 0) -> bool:
        """True when one more outbound call fits while leaving ``keep_free`` slots unused."""
        return self.current + 1 <= self.outbound_ceiling - keep_free

    def acquire(self, call: CallRecord) -> None:
        """Give ``call`` a slot (the caller checked `has_room`)."""
        if self.current + 1 > self.outbound_ceiling:
            raise RuntimeError("concurrency slot taken beyond the outbound ceiling")
        now = self._clock.now_ms()
        self.current += 1
        self.peak = max(self.peak, self.current)
        call.slot_since_ms = now
        self._open_since_sum += now

    def release(self, call: CallRecord) -> bool:
        """Free ``call``'s slot if it holds one; True when a slot was freed."""
        since = call.slot_since_ms
        if since is None:
            return False
        now = self._clock.now_ms()
        call.slot_since_ms = None
        self.current -= 1
        self._open_since_sum -= since
        self._closed_busy_ms += now - since
        return True

    def busy_slot_seconds(self) -> float:
        """Virtual seconds of slot occupancy summed over all calls, open slots included."""
        open_ms = self.current * self._clock.now_ms() - self._open_since_sum
        return (self._closed_busy_ms + open_ms) / 1000.0

    def reset(self) -> None:
        """Forget every slot and the peak (the caller dropped every call)."""
        self.current = 0
        self.peak = 0
        self._closed_busy_ms = 0
        self._open_since_sum = 0

    def report(self) -> dict[str, int | bool]:
        """The /get-concurrency body (every field of the SDK's ConcurrencyRetrieveResponse)."""
        base = min(self.limit, 20)
        purchased = self.limit - base
        purchase_limit = max(100, purchased)
        return {
            "current_concurrency": self.current,
            "concurrency_limit": self.limit,
            "base_concurrency": base,
            "purchased_concurrency": purchased,
            "concurrency_purchase_limit": purchase_limit,
            "remaining_purchase_limit": purchase_limit - purchased,
            "concurrency_burst_enabled": self.burst_enabled,
            "concurrency_burst_limit": burst_limit(self.limit) if self.burst_enabled else 0,
            "reserved_inbound_concurrency": self.reserved_inbound,
        }


class DialPacer:
    """Outbound dial starts per virtual second (generic cell rate algorithm).

    At most ``max(1, floor(cps))`` dials may start back to back; after that they are spaced
    ``1/cps`` seconds apart.
    """

    def __init__(self, cps: float) -> None:
        self.cps = cps
        self._interval_ms = 1000.0 / cps
        self._tolerance_ms = (max(1, math.floor(cps)) - 1) * self._interval_ms
        self._tat = -math.inf

    def wait_ms(self, now_ms: int) -> float:
        """Virtual ms until a dial may start (0 when one may start now)."""
        return max(0.0, self._tat - self._tolerance_ms - now_ms)

    def take(self, now_ms: int) -> int:
        """Book the next dial start and return when it is (``now_ms`` or later)."""
        start = max(float(now_ms), self._tat - self._tolerance_ms)
        self._tat = max(self._tat, float(now_ms)) + self._interval_ms
        return math.ceil(start)

    def reset(self) -> None:
        """Forget every booking."""
        self._tat = -math.inf


class RateLimiter:
    """API requests per real second per key; `check` answers how long to wait (0 = go)."""

    def __init__(self, rate: float | None, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}

    def clear(self) -> None:
        """Refill every bucket."""
        self._buckets.clear()

    def check(self, key: str) -> float:
        """Take a token for ``key`` or return the seconds until one is available."""
        if self.rate is None:
            return 0.0
        capacity = max(1.0, self.rate)
        now = self._monotonic()
        tokens, last = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate
