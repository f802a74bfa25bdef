"""streams/detect/tails.py gives what scipy.stats gives, over the arguments the detectors pass."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from streams.detect import tails

MEANS = np.geomspace(0.01, 5_000, 60)
TAILS = np.array([0.5, 0.1, 1e-2, 1e-3, 1e-4, 1e-6, 1e-9]) * (1 + 1e-9)
COUNTS = np.unique(np.geomspace(1, 20_000, 80).astype(int) - 1)
# Dispersions from Poisson-like to boat-lumpy: scipy's n and p for variance = phi * mean.
PHIS = (1.2, 3.0, 40.0, 400.0)


def nbinom_args(mean: np.ndarray, phi: float) -> tuple[np.ndarray, np.ndarray]:
    variance = phi * mean
    return mean * mean / (variance - mean), mean / variance


def test_poisson_quantiles_and_tails_are_scipys() -> None:
    mu = MEANS[:, None]
    assert np.array_equal(tails.poisson_isf(TAILS[None, :], mu), stats.poisson.isf(TAILS[None, :], mu))
    assert np.array_equal(tails.poisson_ppf(0.99, MEANS), stats.poisson.ppf(0.99, MEANS))
    k = COUNTS[None, :]
    assert np.array_equal(tails.poisson_sf(k, mu), stats.poisson.sf(k, mu))


@pytest.mark.parametrize("phi", PHIS)
def test_negative_binomial_quantiles_and_tails_are_scipys(phi: float) -> None:
    n, p = (a[:, None] for a in nbinom_args(MEANS, phi))
    assert np.array_equal(tails.nbinom_isf(TAILS[None, :], n, p), stats.nbinom.isf(TAILS[None, :], n, p))
    assert np.array_equal(tails.nbinom_ppf(0.99, n, p), stats.nbinom.ppf(0.99, n, p))
    k = COUNTS[None, :]
    assert np.array_equal(tails.nbinom_sf(k, n, p), stats.nbinom.sf(k, n, p))


def test_scalars_give_scalars_of_the_same_value() -> None:
    n, p = nbinom_args(np.array([348.0]), 40.0)
    assert float(tails.nbinom_sf(5_111, n[0], p[0])) == float(stats.nbinom.sf(5_111, n[0], p[0]))
    assert float(tails.poisson_sf(39, 3.0)) == float(stats.poisson.sf(39, 3.0))


def test_gamma_tails_are_scipys_and_one_below_zero() -> None:
    x = np.array([-5.0, 0.0, 1.0, 60.0, 127.0, 300.0, 5_000.0])
    for shape, scale in ((2.2, 27.0), (9.0, 6.7), (0.8, 100.0)):
        expected = stats.gamma.sf(x, shape, scale=scale)
        assert np.allclose(tails.gamma_sf(x, shape, scale), expected, rtol=1e-14, atol=0)
