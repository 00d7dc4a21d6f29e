"""Retell's clock, as the Date headers of its answers give it.

An idempotency key protects a create for one hour **on Retell's clock**. Whether a lost create
may still be sent again with its key is therefore a question about Retell's time, not about
ours: our clock may be wrong, paused or (against the simulator) slower than Retell's. Every answer
carries a `Date` header (RFC 9110 requires one from a server that has a clock); `ServerClock`
keeps the latest, and when it was seen on our monotonic clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

__all__ = ["ServerClock"]

# A Date header has whole seconds: the server's time may be up to this much later than it says.
_DATE_RESOLUTION = timedelta(seconds=1)


class ServerClock:
    """The latest time Retell stated, and bounds on what its time is now."""

    def __init__(
        self,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._monotonic = monotonic
        self._wall = wall
        self._header: str | None = None
        self._stated: datetime | None = None
        self._seen_at = float("-inf")

    def observe(self, date_header: str | None) -> None:
        """Take the `Date` header of an answer (ignored when missing or unreadable)."""
        if date_header is None:
            return
        if date_header != self._header:
            try:
                stated = parsedate_to_datetime(date_header)
            except (TypeError, ValueError, IndexError):
                return
            if stated.tzinfo is None:
                stated = stated.replace(tzinfo=UTC)
            self._header = date_header
            if self._stated is not None and stated < self._stated:
                # Answers of concurrent requests arrive out of order: keep the latest time.
                return
            self._stated = stated
        self._seen_at = self._monotonic()

    def at_least(self) -> datetime:
        """A time Retell's clock has certainly reached: the latest Date stated (our wall clock
        when Retell never stated one)."""
        return self._stated if self._stated is not None else self._wall()

    def at_most(self, *, stated_within: float) -> datetime | None:
        """A time Retell's clock has not yet passed, if an answer stated it less than
        `stated_within` seconds ago (None otherwise: the reading is too old to bound it).

        Without any Date seen, our wall clock stands in (Retell runs on real time)."""
        if self._stated is None:
            return self._wall() + _DATE_RESOLUTION
        if self._monotonic() - self._seen_at > stated_within:
            return None
        return self._stated + _DATE_RESOLUTION
