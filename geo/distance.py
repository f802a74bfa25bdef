"""Enrich stage: great-circle distances and speeds between positions."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_NM = 1852.0


def haversine_m(
    lat1_deg: ArrayLike, lon1_deg: ArrayLike, lat2_deg: ArrayLike, lon2_deg: ArrayLike
) -> NDArray[np.float64]:
    """Great-circle distance in metres between arrays of positions."""
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(a, dtype=np.float64)) for a in (lat1_deg, lon1_deg, lat2_deg, lon2_deg)
    )
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


def distance_m(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Scalar `haversine_m` for per-fix loops (numpy's per-call overhead dominates one pair)."""
    lat1, lat2 = math.radians(lat1_deg), math.radians(lat2_deg)
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin(math.radians(lon2_deg - lon1_deg) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(h, 1.0)))


def knots(distance_m: float, seconds: float) -> float:
    """Speed in knots over a leg; infinite for a jump with no time."""
    if seconds <= 0:
        return math.inf if distance_m > 0 else 0.0
    return distance_m / METRES_PER_NM / (seconds / 3600.0)
