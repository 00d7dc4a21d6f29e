"""Counters of what the simulator was asked and what it refused."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["RequestStats"]


@dataclass
class RequestStats:
    """API traffic counters (requests to /_sim/* are not counted)."""

    total_requests: int = 0
    requests_by_endpoint: Counter[str] = field(default_factory=Counter)
    calls_created: int = 0
    idempotent_replays: int = 0
    rejected_429: Counter[str] = field(default_factory=Counter)
    faults_injected: Counter[str] = field(default_factory=Counter)

    def count_request(self, endpoint: str) -> None:
        """Count one request to ``endpoint`` ("METHOD /path/{param}")."""
        self.total_requests += 1
        self.requests_by_endpoint[endpoint] += 1
