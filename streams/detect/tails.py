"""Detect stage: tail probabilities and quantiles of the counts' distributions, from scipy.special.

These are the ufuncs `scipy.stats` calls underneath (its `poisson`, `nbinom` and `gamma`) for the
arguments the detectors pass: counts at or above zero, probabilities strictly between 0 and 1, a
positive mean. Called directly they skip the distribution's argument handling, which costs tens
of microseconds a call, and `scipy.stats` is not imported (half a second in every process).
`tests/unit/detect/test_tails.py` checks them against `scipy.stats` over a grid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special
from scipy.special import _ufuncs  # the negative binomial's Boost functions, as scipy.stats uses them


def poisson_sf(k: Any, mu: Any) -> Any:
    """P(X > k) for a Poisson of mean `mu`."""
    return special.pdtrc(np.floor(k), mu)


def poisson_ppf(q: Any, mu: Any) -> Any:
    """The least k with P(X <= k) >= q."""
    upper = np.ceil(special.pdtrik(q, mu))
    lower = np.maximum(upper - 1, 0)
    return np.where(special.pdtr(lower, mu) >= q, lower, upper)


def poisson_isf(q: Any, mu: Any) -> Any:
    """The least k with P(X > k) <= q (as scipy.stats: the quantile at 1 - q)."""
    return poisson_ppf(1 - np.asarray(q, dtype=float), mu)


def nbinom_sf(k: Any, n: Any, p: Any) -> Any:
    """P(X > k) for a negative binomial with scipy's (n, p)."""
    return _ufuncs._nbinom_sf(np.floor(k), n, p)


def nbinom_ppf(q: Any, n: Any, p: Any) -> Any:
    """The least k with P(X <= k) >= q."""
    with np.errstate(over="ignore"):  # as scipy.stats (its gh-17432)
        return _ufuncs._nbinom_ppf(q, n, p)


def nbinom_isf(q: Any, n: Any, p: Any) -> Any:
    """The least k with P(X > k) <= q."""
    with np.errstate(over="ignore"):
        return _ufuncs._nbinom_isf(q, n, p)


def gamma_sf(x: Any, shape: Any, scale: Any) -> Any:
    """P(X > x) for a gamma of this shape and scale; 1 below zero."""
    return np.where(np.asarray(x) > 0, special.gammaincc(shape, np.maximum(x, 0) / scale), 1.0)
