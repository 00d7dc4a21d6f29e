"""Sticky A/B variant assignment: the same number in the same campaign always gets the same arm.

The arm is chosen by a deterministic hash, not a random draw: the first 8 bytes of
SHA-256(`<campaign name>` NUL `<E.164 number>`) read as a fraction of 2**64, placed on the
cumulative weights of the variants in the order the campaign lists them. Re-ingesting, appending
or re-running on another machine gives the same answer; changing the weights moves only the
numbers near a boundary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import accumulate

import numpy as np
import numpy.typing as npt

__all__ = ["assign_variant", "assign_variants", "variant_fraction"]

_SCALE = float(2**64)


def variant_fraction(campaign: str, e164: str) -> float:
    """The number's position in [0, 1) for this campaign."""
    digest = hashlib.sha256(f"{campaign}\0{e164}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def assign_variant(campaign: str, e164: str, variants: Sequence[tuple[str, float]]) -> str:
    """The variant name for one number; `variants` are (name, weight) with positive weights."""
    return str(assign_variants(campaign, [e164], variants)[0])


def assign_variants(
    campaign: str, numbers: Sequence[str], variants: Sequence[tuple[str, float]]
) -> npt.NDArray[np.object_]:
    """The variant name for each number, in order (see the module docstring for the rule)."""
    if not variants:
        raise ValueError("a campaign has at least one variant")
    names = np.array([name for name, _ in variants], dtype=object)
    if len(variants) == 1:
        return np.full(len(numbers), names[0], dtype=object)
    total = sum(weight for _, weight in variants)
    bounds = np.array(list(accumulate(weight / total for _, weight in variants)))
    fractions = np.fromiter(
        (variant_fraction(campaign, number) for number in numbers), dtype=np.float64
    )
    # Rounding can leave the last bound a hair under 1: clip so every fraction lands somewhere.
    picks = np.minimum(np.searchsorted(bounds, fractions, side="right"), len(variants) - 1)
    chosen: npt.NDArray[np.object_] = names[picks]
    return chosen
