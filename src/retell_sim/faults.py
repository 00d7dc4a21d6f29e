"""Injected faults: the failures a client of Retell's API has to survive.

A spec is a profile name (``none``, ``flaky``, ``hostile``) or a comma list of ``kind=rate``
entries, optionally followed by ``:seconds`` for the kinds that take a duration::

    5xx=0.02,429=0.01,slow=0.01:3.0,drop=0.005,lost_create=0.01:130

- ``5xx``: answer 500, 502 or 503 without doing anything.
- ``429``: answer "Account rate limited" without doing anything.
- ``slow``: wait ``seconds`` (real time, default 3) before handling the request normally.
- ``drop``: send the response head and part of the body, then close the connection.
- ``lost_create``: on create endpoints only, do the create (the call exists and proceeds) but never
  deliver the response: drop it, or hang ``seconds`` first so the client times out.
- ``capacity``: on create-phone-call only, refuse the call for capacity as if other traffic
  (inbound calls, another tool) filled the workspace: the call is placed and ends at once with
  ``concurrency_limit_reached`` (or a 429 with ``concurrency_exhausted: 429``).

Each request draws at most one fault from a seeded RNG, so a run repeats.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["FAULT_KINDS", "FAULT_PROFILES", "FaultInjector", "FaultSpec", "parse_faults"]

FAULT_KINDS = ("5xx", "429", "slow", "drop", "lost_create", "capacity")
# Kinds drawn only for requests that create something; other requests see no fault instead.
CREATE_ONLY_KINDS = ("lost_create", "capacity")
_DEFAULT_SLOW_S = 3.0

FAULT_PROFILES: dict[str, str] = {
    "none": "",
    "flaky": "5xx=0.02,429=0.02,slow=0.02:2.0,drop=0.005,lost_create=0.005",
    "hostile": "5xx=0.08,429=0.08,slow=0.05:5.0,drop=0.03,lost_create=0.05",
}


@dataclass(frozen=True)
class FaultSpec:
    """Fault rates per kind, plus the durations of ``slow`` and ``lost_create``."""

    rates: dict[str, float] = field(default_factory=dict)
    slow_seconds: float = _DEFAULT_SLOW_S
    lost_create_hang_seconds: float = 0.0

    def describe(self) -> str:
        """The spec in the syntax `parse_faults` reads (empty when no fault is on)."""
        parts = []
        for kind in FAULT_KINDS:
            rate = self.rates.get(kind, 0.0)
            if rate <= 0:
                continue
            if kind == "slow":
                parts.append(f"slow={rate:g}:{self.slow_seconds:g}")
            elif kind == "lost_create" and self.lost_create_hang_seconds > 0:
                parts.append(f"lost_create={rate:g}:{self.lost_create_hang_seconds:g}")
            else:
                parts.append(f"{kind}={rate:g}")
        return ",".join(parts)


def parse_faults(text: str) -> FaultSpec:
    """Read a fault spec or profile name; raise ValueError naming the bad part."""
    text = text.strip()
    if text in FAULT_PROFILES:
        text = FAULT_PROFILES[text]
    rates: dict[str, float] = {}
    durations: dict[str, float] = {}
    for raw in filter(None, (part.strip() for part in text.split(","))):
        kind, sep, value = raw.partition("=")
        kind = kind.strip()
        if not sep or kind not in FAULT_KINDS:
            known = ", ".join(FAULT_KINDS)
            profiles = ", ".join(FAULT_PROFILES)
            raise ValueError(
                f"fault spec entry {raw!r}: expected kind=rate with kind one of {known} "
                f"(or a profile: {profiles})"
            )
        rate_text, _, seconds_text = value.partition(":")
        rate = _number(rate_text, f"fault {kind} rate")
        if not 0 <= rate <= 1:
            raise ValueError(f"fault {kind} rate must be between 0 and 1, got {rate_text!r}")
        rates[kind] = rate
        if seconds_text:
            if kind not in ("slow", "lost_create"):
                raise ValueError(f"fault {kind} takes no duration (got {raw!r})")
            seconds = _number(seconds_text, f"fault {kind} seconds")
            if seconds < 0:
                raise ValueError(f"fault {kind} seconds must be >= 0, got {seconds_text!r}")
            durations[kind] = seconds
    if sum(rates.values()) > 1 + 1e-9:
        raise ValueError(f"fault rates add up to more than 1 in {text!r}")
    return FaultSpec(
        rates=rates,
        slow_seconds=durations.get("slow", _DEFAULT_SLOW_S),
        lost_create_hang_seconds=durations.get("lost_create", 0.0),
    )


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}") from None


class FaultInjector:
    """Draws the fault (if any) for each API request from a seeded RNG."""

    def __init__(self, spec: FaultSpec, seed: int) -> None:
        self._spec = spec
        self._rng = random.Random(f"faults:{seed}")

    @property
    def spec(self) -> FaultSpec:
        """The spec in force."""
        return self._spec

    def set_spec(self, spec: FaultSpec) -> None:
        """Replace the spec at run time (the RNG stream continues)."""
        self._spec = spec

    def server_error_status(self) -> int:
        """The status of an injected server error (500, 502 or 503)."""
        return self._rng.choice((500, 502, 503))

    def draw(self, *, creates: bool) -> str | None:
        """The fault kind for one request, or None; the create-only kinds only where
        ``creates``."""
        rates = self._spec.rates
        if not rates:
            return None
        roll = self._rng.random()
        threshold = 0.0
        for kind in FAULT_KINDS:
            threshold += rates.get(kind, 0.0)
            if roll < threshold:
                if kind in CREATE_ONLY_KINDS and not creates:
                    return None
                return kind
        return None
