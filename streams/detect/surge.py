"""Detect stage: the statistics of a surge, for counts that come in boats.

Pure functions, no state. A crossing's expected count per day comes from
reference days (`robust_level`): the same weeks of past years, as in the
Farrington flexible algorithm (Noufaily et al. 2013), and the past weeks
before a guard band, as in CDC EARS C2/C3. Counts are overdispersed: persons
arrive in boats, and boats in spells of weather. So a window's count is judged
against a negative binomial with the reference days' quasi-Poisson dispersion
`phi` (variance = phi x mean) plus the uncertainty of the level itself
(`level_cv`), and its tail probability comes from scipy's ufuncs (`tails.py`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from schemas.alerts import Impact
from streams.detect import tails

DOWNWEIGHT_FROM = 2.58  # Pearson residual beyond which a reference day counts less (Noufaily et al.)
UPPER_QUANTILE = 0.99
LEVELS = tuple(Impact)
ROUNDING = 1e-9


@dataclass(frozen=True)
class Level:
    """Expected count per day and the dispersion of daily counts around it."""

    per_day: float
    phi: float


def robust_level(values: Sequence[float], phi_floor: float) -> Level:
    """Quasi-Poisson mean and dispersion of reference days, with past outbreaks down-weighted.

    A first fit gives each day a Pearson residual; days beyond 2.58 get the
    weight (2.58 / r)^2, and the refit gives the level. `phi_floor` is the least
    dispersion the counts can have (boat sizes alone make persons lumpy).
    """
    days = np.asarray(values, dtype=float)
    if days.size == 0 or (mean := float(days.mean())) <= 0:
        return Level(0.0, phi_floor)
    phi = max(1.0, _dispersion(days, np.ones_like(days), mean))
    excess = np.maximum(days - mean, 0.0)
    limit = DOWNWEIGHT_FROM * math.sqrt(phi * mean)
    weights = (limit / np.maximum(excess, limit)) ** 2  # 1 up to the limit, (limit / excess)^2 beyond
    mean = float(weights @ days / weights.sum())
    if mean <= 0:
        return Level(0.0, phi_floor)
    return Level(mean, max(phi_floor, _dispersion(days, weights, mean)))


def _dispersion(days: np.ndarray, weights: np.ndarray, mean: float) -> float:
    total = float(weights.sum())
    if total <= 1:
        return 1.0
    return float(weights @ (days - mean) ** 2) / mean / (total - 1)


def _variance(expected: Any, phi: Any, level_cv: float) -> Any:
    """phi*mean + (cv*mean)^2, of numbers or of arrays."""
    return phi * expected + (level_cv * expected) ** 2


def _is_poisson(variance: Any, expected: Any) -> Any:
    """Not wider than Poisson (to rounding): no negative binomial has that variance."""
    return variance <= expected * (1 + 1e-9)


def _nbinom_args(expected: Any, variance: Any) -> tuple[Any, Any]:
    """scipy's (n, p) of the negative binomial with this mean and variance."""
    return expected * expected / (variance - expected), expected / variance


def _distribution(expected: float, phi: float, level_cv: float) -> tuple[bool, tuple[float, ...]]:
    """Negative binomial with mean `expected` and variance phi*mean + (cv*mean)^2; Poisson if not wider.

    Whether it is Poisson, and its parameters: (mean,) for a Poisson, scipy's (n, p) otherwise.
    """
    variance = _variance(expected, phi, level_cv)
    if _is_poisson(variance, expected):
        return True, (expected,)
    return False, _nbinom_args(expected, variance)


def tail_probability(observed: int, expected: float, phi: float, level_cv: float) -> float:
    """P(X >= observed) for a window whose expected count is `expected`."""
    if observed <= 0:
        return 1.0
    if expected <= 0:
        return 0.0
    poisson, args = _distribution(expected, phi, level_cv)
    return float(tails.poisson_sf(observed - 1, *args) if poisson else tails.nbinom_sf(observed - 1, *args))


def upper_bound(expected: float, phi: float, level_cv: float, quantile: float = UPPER_QUANTILE) -> int:
    """The count a window stays at or below with probability `quantile`."""
    if expected <= 0:
        return 0
    poisson, args = _distribution(expected, phi, level_cv)
    return int(tails.poisson_ppf(quantile, *args) if poisson else tails.nbinom_ppf(quantile, *args))


def count_for(probability: float, expected: float, phi: float, level_cv: float) -> int:
    """The least count whose tail probability P(X >= count) is at most `probability`.

    A count whose tail equals the probability to within rounding counts as at it.
    """
    return int(counts_for([expected], phi, level_cv, [probability])[0, 0])


def counts_for(
    expected: Sequence[float], phi: float | Sequence[float], level_cv: float, probabilities: Sequence[float]
) -> np.ndarray:
    """`count_for` of each expected count (rows) and probability (columns), in one call per family.

    `phi` is one dispersion for all, or one per expected count. Each scipy call
    has a fixed cost of tens of microseconds, more than the quantiles it computes.
    """
    means = np.asarray(expected, dtype=float)[:, None]
    levels = np.asarray(probabilities, dtype=float)[None, :] * (1 + ROUNDING)
    phis = np.broadcast_to(np.asarray(phi, dtype=float), means.shape[:1])[:, None]
    variance = _variance(means, phis, level_cv)
    counts = np.ones((means.shape[0], levels.shape[1]), dtype=np.int64)  # nothing expected: any count
    poisson = (means[:, 0] > 0) & _is_poisson(variance[:, 0], means[:, 0])
    wider = (means[:, 0] > 0) & ~poisson
    if poisson.any():
        counts[poisson] = tails.poisson_isf(levels, means[poisson]).astype(np.int64) + 1
    if wider.any():
        args = _nbinom_args(means[wider], variance[wider])
        counts[wider] = tails.nbinom_isf(levels, *args).astype(np.int64) + 1
    return counts


@dataclass(frozen=True)
class WindowTest:
    """One window's expected count, and the counts at which it reaches each impact level."""

    expected: float
    phi: float
    level_cv: float
    probabilities: tuple[float, ...]  # tail probability for low, medium, high, very high
    counts: tuple[int, ...]  # least count for each level, never below the minimum
    minimum: int  # no surge below this count, however unusual

    def impact(self, observed: int) -> Impact | None:
        """The highest level `observed` reaches; None below the lowest."""
        if observed < self.minimum:
            return None
        reached = sum(1 for count in self.counts if observed >= count)
        return LEVELS[reached - 1] if reached else None

    @cached_property
    def least(self) -> int:
        """The least count that reaches a level: `impact(observed)` is not None exactly from here."""
        return max(self.minimum, min(self.counts))

    def upper(self) -> int:
        """The 99% upper bound of the window."""
        return upper_bound(self.expected, self.phi, self.level_cv)

    def probability(self, observed: int) -> float:
        """The tail probability of `observed`."""
        return tail_probability(observed, self.expected, self.phi, self.level_cv)


def window_tests(
    expected: Sequence[float],
    phis: Sequence[float],
    level_cv: float,
    probabilities: Sequence[float],
    minimums: Sequence[int],
) -> list[WindowTest]:
    """The tests of windows (expected count, dispersion and minimum each), thresholds computed together."""
    floors = np.asarray(minimums, dtype=np.int64)[:, None]
    counts = np.maximum(counts_for(expected, phis, level_cv, probabilities), floors)
    return [
        WindowTest(float(e), float(phi), level_cv, tuple(probabilities), tuple(int(c) for c in row), int(m))
        for e, phi, row, m in zip(expected, phis, counts, minimums)
    ]


def window_dispersion(day_phi: float, compound: float, hours: float) -> float:
    """The dispersion of a window of `hours`, from the dispersion of whole days.

    Days are overdispersed mostly by weather: a day's boats share its rate. So
    a window within a day keeps the day's relative spread, and its dispersion
    beyond `compound` (what counting persons in boats gives at any scale: 1 for
    boats, E[size^2]/E[size] for persons) shrinks with its length; a window of
    several days adds independent days, and keeps the day's dispersion.
    """
    return compound + max(day_phi - compound, 0.0) * min(1.0, hours / 24)
