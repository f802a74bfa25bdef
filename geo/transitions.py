"""Enrich stage: zones a vessel's leg passes through without a fix inside (geofence 'cross')."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import ArrayLike

from geo.catalogue import Zones


def crossed_zones(
    zones: Zones,
    lon1_deg: ArrayLike,
    lat1_deg: ArrayLike,
    lon2_deg: ArrayLike,
    lat2_deg: ArrayLike,
    start_zone: Sequence[str],
    end_zone: Sequence[str],
) -> list[tuple[int, str]]:
    """(leg index, zone id) for each zone a straight leg intersects, other than the zones it
    starts or ends in (`start_zone`, `end_zone`: ids, '' for none): those are enter and exit.
    """
    start = np.column_stack([np.asarray(lon1_deg, np.float64), np.asarray(lat1_deg, np.float64)])
    end = np.column_stack([np.asarray(lon2_deg, np.float64), np.asarray(lat2_deg, np.float64)])
    if start.shape[0] == 0:
        return []
    # Only legs whose bounding box meets some zone's go to shapely: most legs are short.
    low, high = np.minimum(start, end), np.maximum(start, end)
    b = zones.bounds
    meets = (
        (low[:, None, 0] <= b[None, :, 2]) & (high[:, None, 0] >= b[None, :, 0])
        & (low[:, None, 1] <= b[None, :, 3]) & (high[:, None, 1] >= b[None, :, 1])
    )  # fmt: skip
    rows = np.arange(len(start))
    for ends in (start_zone, end_zone):
        index = np.array([zones.position.get(z, -1) for z in ends], dtype=np.int64)
        inside = index >= 0
        meets[rows[inside], index[inside]] = False
    candidates = np.flatnonzero(meets.any(axis=1))
    if candidates.size == 0:
        return []
    legs = shapely.linestrings(np.stack([start[candidates], end[candidates]], axis=1))
    leg_index, zone_index = zones.tree.query(legs, predicate="intersects")
    return [
        (int(candidates[i]), zones.ids[int(z)])
        for i, z in zip(leg_index, zone_index)
        if meets[candidates[i], z]
    ]
