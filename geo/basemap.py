"""The live picture's base map: the catalogue's countries, route areas and crossings, simplified for a
browser, and the ports, as one GeoJSON document per layer. No tile server: this is the whole map."""

from __future__ import annotations

from typing import Any

import shapely

from geo.catalogue import Catalogue, Zones

# Degrees: about 1 km for countries and route areas, about 50 m for crossings (the Ceuta fence is 8 km).
COUNTRY_TOLERANCE_DEG = 0.01
ROUTE_TOLERANCE_DEG = 0.02
CROSSING_TOLERANCE_DEG = 0.0005
COORDINATE_DECIMALS = 4


def base_map(catalogue: Catalogue, ports: list[dict[str, Any]]) -> dict[str, Any]:
    """Layers `countries`, `routes`, `crossings` and `ports` as GeoJSON FeatureCollections; `ports` are the
    features of a ports file (a `port` code and a `name` each)."""
    return {
        "countries": _layer(catalogue.countries, COUNTRY_TOLERANCE_DEG, ("id", "name")),
        "routes": _layer(catalogue.routes, ROUTE_TOLERANCE_DEG, ("id", "name")),
        "crossings": _layer(
            catalogue.crossings,
            CROSSING_TOLERANCE_DEG,
            ("id", "name", "kind", "country", "border_section", "route"),
        ),
        "ports": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": port["geometry"],
                    "properties": {
                        "id": str(port["properties"].get("port", "")),
                        "name": str(port["properties"].get("name", "")),
                    },
                }
                for port in ports
            ],
        },
    }


def _layer(zones: Zones, tolerance_deg: float, keep: tuple[str, ...]) -> dict[str, Any]:
    simplified = shapely.set_precision(
        shapely.simplify(zones.geoms, tolerance_deg, preserve_topology=True), 10.0**-COORDINATE_DECIMALS
    )
    features = [
        {"type": "Feature", "geometry": shapely.geometry.mapping(geom),
         "properties": {key: props.get(key) for key in keep}}
        for props, geom in zip(zones.props, simplified)
        if not geom.is_empty
    ]  # fmt: skip
    # Smallest last: drawn on top, so a crossing inside a route area stays clickable.
    return {"type": "FeatureCollection", "features": features[::-1]}
