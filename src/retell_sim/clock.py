"""The simulator's virtual clock.

Virtual time starts at real now (or a given epoch ms) and runs at ``speed`` times real time. With
``speed == 0`` it stands still and moves only when told to (`VirtualClock.jump_to`), which makes
tests deterministic. Every timestamp the simulator hands out is epoch milliseconds on this clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["VirtualClock"]


class VirtualClock:
    """Epoch-millisecond time that runs at ``speed`` times real time and can be moved forward."""

    def __init__(
        self,
        *,
        speed: float,
        start_ms: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        self._speed = speed
        self._monotonic = monotonic
        self._origin_ms = start_ms if start_ms is not None else int(wall() * 1000)
        self._mono0 = monotonic()
        self._offset_ms = 0.0

    @property
    def speed(self) -> float:
        """Virtual seconds per real second (0 = manual)."""
        return self._speed

    @property
    def manual(self) -> bool:
        """True when the clock only moves on `jump_to`."""
        return self._speed == 0

    @property
    def origin_ms(self) -> int:
        """Virtual epoch ms at start."""
        return self._origin_ms

    def now_ms(self) -> int:
        """Current virtual time, epoch milliseconds."""
        running = (self._monotonic() - self._mono0) * 1000.0 * self._speed
        return int(self._origin_ms + running + self._offset_ms)

    def jump_to(self, target_ms: int) -> None:
        """Move the clock forward to ``target_ms`` (never backwards)."""
        gap = target_ms - self.now_ms()
        if gap > 0:
            self._offset_ms += gap

    def elapsed_virtual_seconds(self) -> float:
        """Virtual seconds since start."""
        return (self.now_ms() - self._origin_ms) / 1000.0

    def real_seconds(self, virtual_ms: float) -> float:
        """How long ``virtual_ms`` lasts in real time (the span itself on a manual clock)."""
        if self._speed == 0:
            return virtual_ms / 1000.0
        return virtual_ms / 1000.0 / self._speed
