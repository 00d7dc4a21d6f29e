"""Wilson intervals and the two-proportion z test, against figures computed by hand."""

from __future__ import annotations

import math

import pytest

from campaigner.reports.stats import enough_data, two_proportion_test, wilson_interval


def test_wilson_interval_of_45_in_100() -> None:
    # z^2 = 3.8415; centre = (0.45 + 3.8415/200) / (1 + 3.8415/100) = 0.451852;
    # half = 1.95996/1.038415 * sqrt(0.45*0.55/100 + 3.8415/40000) = 0.095706.
    low, high = wilson_interval(45, 100)
    assert low == pytest.approx(0.356146, abs=1e-6)
    assert high == pytest.approx(0.547554, abs=1e-6)


def test_wilson_interval_stays_inside_zero_and_one() -> None:
    assert wilson_interval(0, 10).low == pytest.approx(0.0, abs=1e-12)
    assert wilson_interval(10, 10).high == pytest.approx(1.0)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_two_proportion_test_of_45_in_100_against_30_in_100() -> None:
    # pooled = 75/200 = 0.375; se = sqrt(0.375*0.625*(1/100 + 1/100)) = 0.068465;
    # z = 0.15 / 0.068465 = 2.19089; p = erfc(2.19089/sqrt 2) = 0.028460.
    test = two_proportion_test(45, 100, 30, 100)
    assert test.z == pytest.approx(2.190890, abs=1e-6)
    assert test.p_value == pytest.approx(0.028460, abs=1e-6)
    mirrored = two_proportion_test(30, 100, 45, 100)
    assert mirrored.z == pytest.approx(-test.z)
    assert mirrored.p_value == pytest.approx(test.p_value)


def test_identical_all_or_nothing_arms_do_not_differ() -> None:
    assert two_proportion_test(40, 40, 30, 30) == (0.0, 1.0)
    assert two_proportion_test(0, 40, 0, 30) == (0.0, 1.0)


def test_p_value_is_two_sided_normal_tail() -> None:
    test = two_proportion_test(60, 100, 40, 100)
    assert test.p_value == pytest.approx(2 * (1 - 0.5 * math.erfc(-abs(test.z) / math.sqrt(2))))


def test_enough_data_needs_trials_and_expected_counts() -> None:
    assert enough_data(20, 40, 8, 40)
    assert not enough_data(10, 29, 10, 40)  # too few trials in one arm
    assert not enough_data(1, 100, 2, 100)  # 1.5 expected successes per arm


@pytest.mark.parametrize(("successes", "trials"), [(-1, 10), (11, 10), (0, -1)])
def test_counts_that_are_not_counts_are_refused(successes: int, trials: int) -> None:
    with pytest.raises(ValueError, match="is not a count"):
        wilson_interval(successes, trials)


def test_a_comparison_needs_trials_in_both_arms() -> None:
    with pytest.raises(ValueError, match="at least one trial"):
        two_proportion_test(0, 0, 5, 10)
