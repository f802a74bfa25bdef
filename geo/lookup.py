"""Enrich stage: vectorised point-in-zone lookup over arrays of positions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.catalogue import Catalogue, Zones

NO_ZONE = -1
OTHER_ROUTE = "other"


def locate_zones(zones: Zones, lon_deg: ArrayLike, lat_deg: ArrayLike) -> NDArray[np.int32]:
    """Index into `zones` of the smallest zone holding each point, or NO_ZONE.

    Zones are sorted largest first, so a later (smaller) hit overwrites an
    earlier one. Each zone tests only the points inside its bounding box.
    """
    lon = np.asarray(lon_deg, dtype=np.float64)
    lat = np.asarray(lat_deg, dtype=np.float64)
    found = np.full(lon.shape, NO_ZONE, dtype=np.int32)
    for index, (geom, (xmin, ymin, xmax, ymax)) in enumerate(zip(zones.geoms, zones.bounds)):
        candidates = np.flatnonzero((lon >= xmin) & (lon <= xmax) & (lat >= ymin) & (lat <= ymax))
        if candidates.size:
            inside = shapely.contains_xy(geom, lon[candidates], lat[candidates])
            found[candidates[inside]] = index
    return found


@dataclass(frozen=True)
class Locations:
    """Zone ids for an array of positions ('' where a point is in no zone)."""

    crossing_id: NDArray[np.object_]
    country: NDArray[np.object_]
    route: NDArray[np.object_]


def locate(catalogue: Catalogue, lon_deg: ArrayLike, lat_deg: ArrayLike) -> Locations:
    """Crossing, country and route of each position.

    The route comes from the crossing when the point is in one, else from the
    route area, else it is 'other'.
    """
    crossing = locate_zones(catalogue.crossings, lon_deg, lat_deg)
    country = locate_zones(catalogue.countries, lon_deg, lat_deg)
    route_area = locate_zones(catalogue.routes, lon_deg, lat_deg)
    crossing_routes = _labels(catalogue.crossings, "route", OTHER_ROUTE)
    route_ids = _labels(catalogue.routes, "id", OTHER_ROUTE)
    route = np.where(crossing >= 0, crossing_routes[crossing], route_ids[route_area])
    return Locations(
        crossing_id=_labels(catalogue.crossings, "id", "")[crossing],
        country=_labels(catalogue.countries, "id", "")[country],
        route=route,
    )


def locate_one(catalogue: Catalogue, lon_deg: float, lat_deg: float) -> tuple[str, str, str]:
    """(crossing_id, country, route) of a single position; wraps `locate`."""
    found = locate(catalogue, [lon_deg], [lat_deg])
    return str(found.crossing_id[0]), str(found.country[0]), str(found.route[0])


def crossing_route(catalogue: Catalogue, crossing_id: str) -> tuple[str, str]:
    """(country, route) of a named crossing, for reports that give only a crossing hint."""
    props = catalogue.crossings.props[catalogue.crossings.index_of(crossing_id)]
    return str(props["country"]), str(props["route"])


def _labels(zones: Zones, key: str, missing: str) -> NDArray[np.object_]:
    # One extra slot at the end so that index NO_ZONE (-1) maps to `missing`.
    return np.array([str(p[key]) for p in zones.props] + [missing], dtype=object)
