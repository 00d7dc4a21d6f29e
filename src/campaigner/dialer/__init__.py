"""Dialing: calling windows, outcome classes, pacing and the dispatcher."""

from __future__ import annotations

from campaigner.dialer.outcomes import classify_call, needs_analysis
from campaigner.dialer.windows import is_callable_at, next_callable_at

__all__ = ["classify_call", "is_callable_at", "needs_analysis", "next_callable_at"]
