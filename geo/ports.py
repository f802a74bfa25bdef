"""Enrich stage: which positions lie near a port (where slow vessels and meetings are normal)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.distance import EARTH_RADIUS_M, haversine_m


@dataclass(frozen=True)
class Ports:
    """Port positions with a spatial index."""

    codes: tuple[str, ...]
    tree: shapely.STRtree

    def near(self, lon_deg: ArrayLike, lat_deg: ArrayLike, radius_m: float) -> NDArray[np.bool_]:
        """True where a position lies within `radius_m` of any port."""
        lon = np.asarray(lon_deg, dtype=np.float64)
        lat = np.asarray(lat_deg, dtype=np.float64)
        near = np.zeros(lon.shape, dtype=bool)
        if radius_m <= 0 or lon.size == 0:
            return near
        # Query in degrees of latitude, widened for the shrinking longitude degree,
        # then confirm candidates on the sphere.
        widen = 1.0 / np.maximum(np.cos(np.radians(lat)), 0.01)
        radius_deg = np.degrees(radius_m / EARTH_RADIUS_M) * widen
        points = shapely.points(lon, lat)
        hits = self.tree.query(points, predicate="dwithin", distance=radius_deg)
        if hits.shape[1]:
            port_xy = shapely.get_coordinates(self.tree.geometries[hits[1]])
            d = haversine_m(lat[hits[0]], lon[hits[0]], port_xy[:, 1], port_xy[:, 0])
            near[hits[0][d <= radius_m]] = True
        return near

    def nearest(self, lon_deg: float, lat_deg: float) -> tuple[str, float, float]:
        """The port nearest a position (by degrees, fine for picking one): code, lon, lat."""
        i = int(self.tree.nearest(shapely.points(lon_deg, lat_deg)))
        lon, lat = shapely.get_coordinates(self.tree.geometries[i])[0]
        return self.codes[i], float(lon), float(lat)

    def near_one(self, lon_deg: float, lat_deg: float, radius_m: float) -> bool:
        """Scalar `near`."""
        return bool(self.near([lon_deg], [lat_deg], radius_m)[0])


def builtin_ports_path() -> Path:
    """The port list shipped with borderwatch (see geo/data/sources/PROVENANCE.md)."""
    return Path(__file__).resolve().parent / "data" / "ports.geojson"


def load_ports(path: Path | None = None) -> Ports:
    """Ports from a GeoJSON file of points with a `port` property."""
    features = json.loads((path or builtin_ports_path()).read_text())["features"]
    xy = np.array([f["geometry"]["coordinates"][:2] for f in features], dtype=np.float64).reshape(-1, 2)
    codes = tuple(str(f["properties"]["port"]) for f in features)
    return Ports(codes, shapely.STRtree(shapely.points(xy)))
