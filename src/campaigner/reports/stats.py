"""The statistics of the A/B comparison: Wilson intervals and the pooled two-proportion z test.

Pure functions on counts, so a report's figures can be checked by hand:

    wilson_interval(45, 100)                    # Interval(low=0.3561..., high=0.5475...)
    two_proportion_test(45, 100, 30, 100)       # ProportionTest(z=2.1909..., p_value=0.0284...)

The z test is the normal approximation; `enough_data` says when it may be trusted (every arm has at
least `MIN_TRIALS` trials, and at least `MIN_EXPECTED` expected successes and failures under the
pooled rate). A report says "not enough data" instead of a p-value otherwise.
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = [
    "CONFIDENCE_Z",
    "MIN_EXPECTED",
    "MIN_TRIALS",
    "Interval",
    "ProportionTest",
    "enough_data",
    "two_proportion_test",
    "wilson_interval",
]

CONFIDENCE_Z = 1.959963984540054
"""The standard normal quantile of a two-sided 95 % interval."""

MIN_TRIALS = 30
"""Fewest trials per arm for which a comparison is reported."""

MIN_EXPECTED = 5
"""Fewest expected successes and failures per arm (under the pooled rate) for the z test."""


class Interval(NamedTuple):
    """A confidence interval for a proportion, both ends in [0, 1]."""

    low: float
    high: float


class ProportionTest(NamedTuple):
    """A two-sided two-proportion z test: the statistic and its p-value."""

    z: float
    p_value: float


def wilson_interval(successes: int, trials: int, z: float = CONFIDENCE_Z) -> Interval:
    """The Wilson score interval of `successes` out of `trials` (0..1 when there are no trials).

    Unlike the textbook p ± z·sqrt(p(1-p)/n) it stays inside [0, 1] and is sensible for rates near
    0 or 1 and for small samples.
    """
    _check_counts(successes, trials)
    if trials == 0:
        return Interval(0.0, 1.0)
    rate = successes / trials
    z2 = z * z
    centre = (rate + z2 / (2 * trials)) / (1 + z2 / trials)
    half = (z / (1 + z2 / trials)) * math.sqrt(
        rate * (1 - rate) / trials + z2 / (4 * trials * trials)
    )
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def two_proportion_test(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int
) -> ProportionTest:
    """The pooled two-proportion z test of rate A against rate B (z > 0 when A is higher).

    z = (pA - pB) / sqrt(p(1-p)(1/nA + 1/nB)) with p the pooled rate; the p-value is two-sided.
    When every trial in both arms succeeded (or none did) the rates cannot differ: z = 0, p = 1.
    """
    _check_counts(successes_a, trials_a)
    _check_counts(successes_b, trials_b)
    if trials_a == 0 or trials_b == 0:
        raise ValueError("both arms need at least one trial")
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance == 0:
        return ProportionTest(0.0, 1.0)
    z = (successes_a / trials_a - successes_b / trials_b) / math.sqrt(variance)
    return ProportionTest(z, math.erfc(abs(z) / math.sqrt(2)))


def enough_data(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> bool:
    """Whether the z test's normal approximation holds well enough to report its p-value."""
    if min(trials_a, trials_b) < MIN_TRIALS:
        return False
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    expected = [
        count
        for trials in (trials_a, trials_b)
        for count in (pooled * trials, (1 - pooled) * trials)
    ]
    return min(expected) >= MIN_EXPECTED


def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes out of {trials} trials is not a count")
