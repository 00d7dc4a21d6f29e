"""When to retry a read, and how long to wait: the rules of Retell's own SDK, tuned for a daemon."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from time import time

__all__ = ["RETRYABLE_STATUSES", "RequestRetries", "retry_after_seconds"]

RETRYABLE_STATUSES = frozenset({408, 409, 429})
# Retell's SDK ignores server-suggested waits longer than this; so do we, falling back to backoff.
MAX_HONOURED_RETRY_AFTER = 60.0


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The wait the server asked for: `retry-after-ms`, else `retry-after` (seconds or a date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time() if now is None else now))


@dataclass(frozen=True)
class RequestRetries:
    """Retry budget and backoff for idempotent requests.

    The delay before retry `n` (0-based) is the server's `retry-after-ms` / `retry-after` when
    given and at most a minute, else `min(base * 2**n, cap)` shortened by up to 25 % of jitter, so
    that many clients backing off together do not retry in lockstep.
    """

    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def should_retry_status(self, status_code: int, headers: Mapping[str, str]) -> bool:
        """Whether an answer with this status is worth another try (`x-should-retry` wins)."""
        hint = headers.get("x-should-retry")
        if hint == "true":
            return True
        if hint == "false":
            return False
        return status_code in RETRYABLE_STATUSES or status_code >= 500

    def delay(self, retry_index: int, headers: Mapping[str, str] | None = None) -> float:
        """Seconds to wait before retry number `retry_index` (0 for the first retry)."""
        if headers is not None:
            suggested = retry_after_seconds(headers)
            if suggested is not None and suggested <= MAX_HONOURED_RETRY_AFTER:
                return suggested
        backoff: float = min(self.base_delay * 2.0**retry_index, self.max_delay)
        return backoff * (1 - 0.25 * self.rng.random())
