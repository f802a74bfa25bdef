"""Enrich stage: load and check a geofence catalogue (crossings, countries, route areas)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import shape

from schemas.errors import CatalogueError


class Layer(StrEnum):
    """The three layers of a catalogue; every feature belongs to exactly one."""

    CROSSING = "crossing"
    COUNTRY = "country"
    ROUTE = "route"


class CrossingKind(StrEnum):
    """What sort of place a crossing is."""

    LAND_CROSSING = "land_crossing"
    FENCE_SECTION = "fence_section"
    SEA_SECTOR = "sea_sector"


REQUIRED_PROPERTIES: dict[Layer, tuple[str, ...]] = {
    Layer.CROSSING: ("id", "name", "kind", "country", "border_section", "route"),
    Layer.COUNTRY: ("id", "name"),
    Layer.ROUTE: ("id", "name"),
}


@dataclass(frozen=True)
class Zones:
    """One layer's zones, ordered by area descending, polygons prepared for lookups.

    Sorting by area makes the overlap rule a property of the data: when a point
    lies in several zones of a layer, the smallest one wins (Gibraltar over
    Spain, a sea sector over the route area around it).
    """

    ids: tuple[str, ...]
    props: tuple[dict[str, Any], ...]
    geoms: NDArray[np.object_]
    bounds: NDArray[np.float64]

    @cached_property
    def tree(self) -> shapely.STRtree:
        """Spatial index of the zones, for queries with lines rather than points."""
        return shapely.STRtree(self.geoms)

    @cached_property
    def position(self) -> dict[str, int]:
        """Zone id to its index in this layer."""
        return {zone_id: i for i, zone_id in enumerate(self.ids)}

    def index_of(self, zone_id: str) -> int:
        """Position of a zone id in this layer; raises KeyError when unknown."""
        return self.ids.index(zone_id)


@dataclass(frozen=True)
class Catalogue:
    """Every layer of a checked geofence catalogue."""

    crossings: Zones
    countries: Zones
    routes: Zones
    source: str

    @property
    def crossing_ids(self) -> frozenset[str]:
        """The crossing ids a report's `crossing_id` hint may name."""
        return frozenset(self.crossings.ids)


def builtin_path() -> Path:
    """The catalogue shipped with borderwatch."""
    return Path(__file__).resolve().parent / "data" / "catalogue.geojson"


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read, check and prepare a catalogue; a bad one raises CatalogueError naming the feature.

    A file unchanged since it was last loaded (same size and modification time) gives the same
    Catalogue again: checking 700 polygons takes a third of a second, and many parts load it.
    """
    path = Path(path or builtin_path())
    try:
        seen = path.stat()
        return _checked(path, seen.st_size, seen.st_mtime_ns)
    except OSError as error:
        raise CatalogueError(f"cannot read geofence catalogue {str(path)!r}: {error}") from error


@lru_cache(maxsize=8)
def _checked(path: Path, size: int, mtime_ns: int) -> Catalogue:
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as error:
        raise CatalogueError(f"cannot read geofence catalogue {str(path)!r}: {error}") from error
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or not features:
        raise CatalogueError(f"{str(path)!r} is not a GeoJSON FeatureCollection with features")
    layers: dict[Layer, list[tuple[dict[str, Any], shapely.Geometry]]] = {layer: [] for layer in Layer}
    for number, raw in enumerate(features):
        layer, props, geom = _check_feature(raw, number)
        layers[layer].append((props, geom))
    for layer, items in layers.items():
        if not items:
            raise CatalogueError(f"{str(path)!r} has no feature with layer {layer.value!r}")
        _check_unique_ids(layer, items)
    route_ids = {props["id"] for props, _ in layers[Layer.ROUTE]}
    for props, _ in layers[Layer.CROSSING]:
        if props["route"] not in route_ids and props["route"] != "other":
            raise CatalogueError(f"crossing {props['id']!r}: route {props['route']!r} is not a route area id")
    return Catalogue(
        crossings=_zones(layers[Layer.CROSSING]),
        countries=_zones(layers[Layer.COUNTRY]),
        routes=_zones(layers[Layer.ROUTE]),
        source=str(path),
    )


def _check_feature(raw: Any, number: int) -> tuple[Layer, dict[str, Any], shapely.Geometry]:
    props = raw.get("properties") if isinstance(raw, dict) else None
    if not isinstance(props, dict):
        raise CatalogueError(f"feature #{number} has no properties object")
    name = f"feature #{number} (id={props.get('id')!r})"
    try:
        layer = Layer(str(props.get("layer")))
    except ValueError:
        raise CatalogueError(
            f"{name}: property 'layer' is {props.get('layer')!r}, "
            f"expected one of {[layer.value for layer in Layer]}"
        ) from None
    for key in REQUIRED_PROPERTIES[layer]:
        if not isinstance(props.get(key), str) or not props[key]:
            raise CatalogueError(f"{name}: missing property {key!r} for a {layer.value}")
    if layer is Layer.CROSSING and props["kind"] not in set(CrossingKind):
        raise CatalogueError(
            f"{name}: kind {props['kind']!r} is not one of {[k.value for k in CrossingKind]}"
        )
    try:
        geom = shape(raw["geometry"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CatalogueError(f"{name}: unreadable geometry ({error})") from None
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise CatalogueError(f"{name}: geometry is a {geom.geom_type}, expected a polygon")
    if geom.is_empty or not shapely.is_valid(geom):
        reason = "empty" if geom.is_empty else shapely.is_valid_reason(geom)
        raise CatalogueError(f"{name}: invalid geometry ({reason})")
    return layer, props, geom


def _check_unique_ids(layer: Layer, items: list[tuple[dict[str, Any], shapely.Geometry]]) -> None:
    seen: set[str] = set()
    for props, _ in items:
        if props["id"] in seen:
            raise CatalogueError(f"duplicate {layer.value} id {props['id']!r}")
        seen.add(props["id"])


def _zones(items: list[tuple[dict[str, Any], shapely.Geometry]]) -> Zones:
    items = sorted(items, key=lambda item: -float(item[1].area))
    geoms = np.array([geom for _, geom in items], dtype=object)
    shapely.prepare(geoms)
    return Zones(
        ids=tuple(props["id"] for props, _ in items),
        props=tuple(props for props, _ in items),
        geoms=geoms,
        bounds=shapely.bounds(geoms),
    )
