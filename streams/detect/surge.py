"""Detect stage: the statistics of a surge, for counts that come in boats.

Pure functions, no state. A crossing's expected count per day comes from
reference days (`robust_level`): the same weeks of past years, as in the
Farrington flexible algorithm (Noufaily et al. 2013), and the past weeks
before a guard band, as in CDC EARS C2/C3. Counts are overdispersed: persons
arrive in boats, and boats in spells of weather. So a window's count is judged
against a negative binomial with the reference days' quasi-Poisson dispersion
`phi` (variance = phi x mean) plus the uncertainty of the level itself
(`level_cv`), and its tail probability comes from `scipy.stats`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from scipy import stats

from schemas.alerts import Impact

DOWNWEIGHT_FROM = 2.58  # Pearson residual beyond which a reference day counts less (Noufaily et al.)
UPPER_QUANTILE = 0.99
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
    n = len(values)
    if n == 0:
        return Level(0.0, phi_floor)
    mean = sum(values) / n
    if mean <= 0:
        return Level(0.0, phi_floor)
    phi = max(1.0, _dispersion(values, [1.0] * n, mean))
    scale = math.sqrt(phi * mean)
    weights = [min(1.0, (DOWNWEIGHT_FROM * scale / (v - mean)) ** 2) if v > mean else 1.0 for v in values]
    mean = sum(w * v for w, v in zip(weights, values)) / sum(weights)
    if mean <= 0:
        return Level(0.0, phi_floor)
    return Level(mean, max(phi_floor, _dispersion(values, weights, mean)))


def _dispersion(values: Sequence[float], weights: Sequence[float], mean: float) -> float:
    total = sum(weights)
    if total <= 1:
        return 1.0
    return sum(w * (v - mean) ** 2 for w, v in zip(weights, values)) / mean / (total - 1)


def _distribution(expected: float, phi: float, level_cv: float) -> stats.rv_discrete:
    """Negative binomial with mean `expected` and variance phi*mean + (cv*mean)^2; Poisson if not wider."""
    variance = phi * expected + (level_cv * expected) ** 2
    if variance <= expected * (1 + 1e-9):
        return stats.poisson(expected)
    size = expected * expected / (variance - expected)
    return stats.nbinom(size, expected / variance)


def tail_probability(observed: int, expected: float, phi: float, level_cv: float) -> float:
    """P(X >= observed) for a window whose expected count is `expected`."""
    if observed <= 0:
        return 1.0
    if expected <= 0:
        return 0.0
    return float(_distribution(expected, phi, level_cv).sf(observed - 1))


def upper_bound(expected: float, phi: float, level_cv: float, quantile: float = UPPER_QUANTILE) -> int:
    """The count a window stays at or below with probability `quantile`."""
    if expected <= 0:
        return 0
    return int(_distribution(expected, phi, level_cv).ppf(quantile))


def count_for(probability: float, expected: float, phi: float, level_cv: float) -> int:
    """The least count whose tail probability P(X >= count) is at most `probability`.

    A count whose tail equals the probability to within rounding counts as at it.
    """
    if expected <= 0:
        return 1
    return int(_distribution(expected, phi, level_cv).isf(probability * (1 + ROUNDING))) + 1


@dataclass(frozen=True)
class WindowTest:
    """One window's expected count, and the counts at which it reaches each impact level."""

    expected: float
    phi: float
    level_cv: float
    probabilities: tuple[float, ...]  # tail probability for low, medium, high, very high
    minimum: int  # no surge below this count, however unusual

    @cached_property
    def low(self) -> int:
        """Least count for low: the one threshold most windows are compared with."""
        return max(self.minimum, count_for(self.probabilities[0], self.expected, self.phi, self.level_cv))

    @cached_property
    def counts(self) -> tuple[int, ...]:
        """Least count for low, medium, high and very high."""
        rest = (max(self.minimum, count_for(p, self.expected, self.phi, self.level_cv))
                for p in self.probabilities[1:])  # fmt: skip
        return (self.low, *rest)

    def impact(self, observed: int) -> Impact | None:
        """The highest level `observed` reaches; None below the lowest.

        scipy costs about a millisecond a quantile, so it runs only for a
        window at or above the minimum, once per threshold and window test
        (the tests are cached per crossing and day).
        """
        if observed < self.minimum or observed < self.low:
            return None
        reached = sum(1 for count in self.counts if observed >= count)
        return list(Impact)[reached - 1]

    def upper(self) -> int:
        """The 99% upper bound of the window."""
        return upper_bound(self.expected, self.phi, self.level_cv)

    def probability(self, observed: int) -> float:
        """The tail probability of `observed`."""
        return tail_probability(observed, self.expected, self.phi, self.level_cv)
