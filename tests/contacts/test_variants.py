"""Sticky A/B assignment: deterministic, weighted, independent per campaign."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from campaigner.contacts.variants import assign_variant, assign_variants, variant_fraction

NUMBERS = [f"+1415555{line:04d}" for line in range(100, 200)] + [
    f"+1212555{line:04d}" for line in range(100, 200)
]


def test_the_same_number_gets_the_same_variant_every_time() -> None:
    variants = [("A", 0.5), ("B", 0.5)]
    first = assign_variants("reminders", NUMBERS, variants)
    again = assign_variants("reminders", list(reversed(NUMBERS)), variants)
    assert list(first) == list(reversed(list(again)))
    assert assign_variant("reminders", NUMBERS[7], variants) == first[7]


def test_the_fraction_is_the_documented_hash() -> None:
    digest = hashlib.sha256(b"reminders\x00+14155550100").digest()
    expected = int.from_bytes(digest[:8], "big") / 2**64
    assert variant_fraction("reminders", "+14155550100") == expected


def test_weights_split_the_numbers_roughly_in_proportion() -> None:
    numbers = [f"+1{area}555{line:04d}" for area in range(201, 260) for line in range(100, 200)]
    counts = Counter(assign_variants("c", numbers, [("A", 3.0), ("B", 1.0)]))
    share = counts["A"] / len(numbers)
    assert 0.72 < share < 0.78


def test_campaigns_are_assigned_independently() -> None:
    variants = [("A", 1.0), ("B", 1.0)]
    one = assign_variants("spring", NUMBERS, variants)
    two = assign_variants("autumn", NUMBERS, variants)
    assert list(one) != list(two)


def test_a_single_variant_takes_every_number() -> None:
    assert set(assign_variants("c", NUMBERS, [("default", 1.0)])) == {"default"}


def test_no_variants_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one variant"):
        assign_variants("c", NUMBERS, [])
