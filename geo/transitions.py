"""Enrich stage: zones a vessel's leg passes through without a fix inside (geofence 'cross')."""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import ArrayLike

from geo.catalogue import Zones


def crossed_zones(
    zones: Zones, lon1_deg: ArrayLike, lat1_deg: ArrayLike, lon2_deg: ArrayLike, lat2_deg: ArrayLike
) -> list[tuple[int, str]]:
    """(leg index, zone id) for each zone a straight leg intersects.

    The caller drops the zones the leg starts or ends in: those are enter and
    exit, not cross.
    """
    start = np.column_stack([np.asarray(lon1_deg, np.float64), np.asarray(lat1_deg, np.float64)])
    end = np.column_stack([np.asarray(lon2_deg, np.float64), np.asarray(lat2_deg, np.float64)])
    if start.shape[0] == 0:
        return []
    legs = shapely.linestrings(np.stack([start, end], axis=1))
    leg_index, zone_index = zones.tree.query(legs, predicate="intersects")
    return [(int(i), zones.ids[int(z)]) for i, z in zip(leg_index, zone_index)]
