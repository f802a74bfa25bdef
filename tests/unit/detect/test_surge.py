"""Surge statistics at their boundaries, against values computed by hand."""

from __future__ import annotations

import math

import pytest

from schemas.alerts import Impact
from streams.detect.surge import (
    Level,
    count_for,
    counts_for,
    robust_level,
    tail_probability,
    upper_bound,
    window_dispersion,
    window_tests,
)


def test_poisson_tail_when_the_counts_are_not_overdispersed() -> None:
    # P(X >= 5 | Poisson(2)) = 1 - e^-2 (1 + 2 + 2 + 4/3 + 2/3) = 1 - 7 e^-2
    assert tail_probability(5, 2.0, 1.0, 0.0) == pytest.approx(1 - 7 * math.exp(-2), rel=1e-9)


def test_negative_binomial_tail_with_quasi_poisson_dispersion() -> None:
    # mean 2, variance 3 x 2 = 6: size 1, p 1/3, a geometric law: P(X >= k) = (2/3)^k
    assert tail_probability(5, 2.0, 3.0, 0.0) == pytest.approx((2 / 3) ** 5, rel=1e-9)
    # the level's own uncertainty widens it: variance 2 + (0.5 x 2)^2 = 3 -> size 4, p 2/3
    assert tail_probability(1, 2.0, 1.0, 0.5) == pytest.approx(1 - (2 / 3) ** 4, rel=1e-9)


def test_count_for_is_exactly_the_first_count_at_or_below_the_probability() -> None:
    p5 = (2 / 3) ** 5
    assert count_for(p5, 2.0, 3.0, 0.0) == 5  # exactly at the threshold
    assert count_for(p5 * 0.999, 2.0, 3.0, 0.0) == 6  # just below it needs one more
    assert count_for(1e-6, 0.0, 3.0, 0.0) == 1  # nothing expected: any count is unusual


def test_upper_bound_is_the_99_percent_quantile() -> None:
    # geometric (2/3)^k: P(X <= 10) = 1 - (2/3)^11 = 0.9884 < 0.99, P(X <= 11) = 0.9923
    assert upper_bound(2.0, 3.0, 0.0) == 11


def test_a_window_reaches_each_level_at_its_count_and_not_one_below() -> None:
    probabilities = ((2 / 3) ** 5, (2 / 3) ** 8, (2 / 3) ** 12, (2 / 3) ** 20)
    (test,) = window_tests([2.0], [3.0], 0.0, probabilities, minimums=[1])
    assert test.counts == (5, 8, 12, 20)
    low, medium, high, very_high = Impact
    assert [test.impact(n) for n in (4, 5, 7, 8, 11, 12, 19, 20)] == [
        None, low, low, medium, medium, high, high, very_high,
    ]  # fmt: skip


def test_no_surge_below_the_minimum_however_unusual() -> None:
    (test,) = window_tests([0.1], [1.0], 0.0, (1e-4, 1e-5, 1e-6, 1e-8), minimums=[50])
    assert test.counts == (50, 50, 50, 50)
    assert test.impact(49) is None and test.impact(50) is Impact.VERY_HIGH


def test_the_scalar_threshold_wraps_the_array_path_and_they_agree() -> None:
    expected, probabilities = [0.0, 0.5, 2.0, 40.0, 900.0], [1e-4, 1e-5, 1e-6, 1e-8]
    for phi, cv in ((1.0, 0.0), (3.0, 0.0), (2.0, 0.25)):  # Poisson, negative binomial, and with level doubt
        table = counts_for(expected, phi, cv, probabilities)
        assert [[count_for(p, e, phi, cv) for p in probabilities] for e in expected] == table.tolist()
        # and the threshold is where the tail first drops to the probability
        for e, row in zip(expected[1:], table[1:]):
            for p, count in zip(probabilities, row):
                assert tail_probability(int(count), e, phi, cv) <= p * (1 + 1e-9)
                assert tail_probability(int(count) - 1, e, phi, cv) > p


def test_robust_level_down_weights_a_past_outbreak() -> None:
    values = [1.0] * 9 + [20.0]
    mean = 2.9
    phi = (9 * (1 - mean) ** 2 + (20 - mean) ** 2) / mean / 9
    weight = (2.58 * math.sqrt(phi * mean) / (20 - mean)) ** 2  # residual 2.85 > 2.58
    level = robust_level(values, phi_floor=1.0)
    assert level.per_day == pytest.approx((9 + 20 * weight) / (9 + weight), rel=1e-9)
    assert level.per_day < mean
    assert robust_level([5.0] * 10, phi_floor=2.0) == Level(5.0, 2.0)  # flat history: the floor
    assert robust_level([], phi_floor=2.0) == Level(0.0, 2.0)


def test_a_window_within_a_day_keeps_the_days_relative_spread_and_longer_windows_its_dispersion() -> None:
    # Days of boats with dispersion 9: a 6-hour window has 1 + 8/4 = 3; a day or a week, 9.
    assert window_dispersion(9.0, 1.0, 6) == pytest.approx(3.0)
    assert window_dispersion(9.0, 1.0, 24) == pytest.approx(9.0)
    assert window_dispersion(9.0, 1.0, 168) == pytest.approx(9.0)
    # Persons in boats of E[size^2]/E[size] = 80 are never less dispersed than that, at any scale.
    assert window_dispersion(200.0, 80.0, 6) == pytest.approx(110.0)
    assert window_dispersion(50.0, 80.0, 6) == pytest.approx(80.0)
    # So a sub-day threshold is lower than with the day's dispersion, and a day's is the same.
    six_h = counts_for([2.0], [window_dispersion(9.0, 1.0, 6)], 0.0, [1e-4])[0, 0]
    assert six_h < counts_for([2.0], [9.0], 0.0, [1e-4])[0, 0]
