"""Build geo/data/catalogue.geojson from the OpenStreetMap polygons in geo/data/sources.

Crossings are cut from real polygons: land borders are a strip around the
shared edge of two OSM country polygons (plus the enclave itself for Ceuta and
Melilla); sea sectors are a published sector's lon/lat box intersected with
the OSM land-plus-territorial-sea polygon of the state that patrols it.
Crossings and the country layer come from osm_countries_maritime_med_canaries.

Route areas cover whole routes as Frontex describes them (departure coasts,
transit countries, arrival areas): each is a union of whole country polygons
(land plus 12 nm) from osm_countries_maritime_routes plus the open sea between
them, i.e. the part of a sea box that lies in no country polygon of that file.

  Western African        CPV SEN GMB GNB GIN MLI MRT ESH, MAR south of 31°N,
                         ESP south of 30°N (the Canary Islands); Atlantic from
                         9.5°N to 31°N, east to 13°W (south of 21°N) or 9°W
  Western Mediterranean  MAR ESP GIB, DZA west of 4°E; Gulf of Cádiz and Atlantic
                         off northern Morocco, Alboran and Balearic Seas to 4°E
  Central Mediterranean  LBY TUN DZA EGY NER TCD SDN ITA MLT; sea 4°E to 23°E, 30°N to 42°N
                         and the Adriatic north of 42°N
  Eastern Mediterranean  TUR GRC CYP BGR SYR LBN (and LBY EGY, see below);
                         sea 23°E to 36.5°E, 30°N to 41°N (Libyan Sea east of 23°E, Aegean, Levant)
  Western Balkans        ALB MKD XKX SRB MNE BIH HRV SVN HUN ROU AUT (and GRC BGR)
  Eastern Borders        UKR MDA SVK (and HUN ROU)
  Black Sea              open western Black Sea, 27.4°E to 34°E, 41°N to 46.7°N (its
                         coasts TUR BGR ROU are claimed first by the routes above)

Overlap rule, the only one: a place claimed by several routes goes to the
first of them in the order of that table; the split lines in it (31°N in
Morocco, 30°N in Spain, 4°E in Algeria) say which part of a country a route
claims. So Morocco and Spain are Western African south of their line and
Western Mediterranean north of it; Algeria east of 4°E (departures to
Sardinia) is Central Mediterranean; Libya and Egypt are Central before Eastern
Mediterranean (departures from eastern Libya to Crete keep the Eastern
Mediterranean sea east of 23°E); Greece, Bulgaria and Türkiye are Eastern
Mediterranean before Western Balkans or Black Sea; Hungary and Romania are
Western Balkans before Eastern Borders. Türkiye's and Greece's boats to
Calabria and Apulia cross the Central Mediterranean sea, their land stays
Eastern Mediterranean. Frontex's circular route from Albania to Greece is left
out: both its countries are claimed first, and Frontex tells it apart by who
crosses, not where. Portugal, France, Israel, Palestine and Jordan are on no
route, nor is Bir Tawil (in no country polygon); the Eastern Borders route
holds only the part this file covers (no Finland, Baltic states, Poland,
Belarus or Russia). Crossings sit inside these areas and keep their own route
tags. Route areas are made disjoint by this
order, slivers narrower than GAP_DEG where neighbouring OSM borders do not
meet join the route next to them, and the areas are simplified as one coverage
(Visvalingam-Whyatt, ROUTE_TOLERANCE_DEG) so that neighbours keep one shared
edge with no gap. This needs shapely >= 2.2 (GEOS >= 3.14) for coverage_clean.

Run: python scripts/build_geofences.py   (deterministic; rewrites the catalogue)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import box, mapping, shape
from shapely.geometry.base import BaseGeometry

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "geo" / "data" / "sources"
OUT = ROOT / "geo" / "data" / "catalogue.geojson"
SOURCE_NOTE = "derived from OpenStreetMap (ODbL 1.0) by scripts/build_geofences.py"

COUNTRY_NAMES = {
    "ALB": "Albania", "CYP": "Cyprus", "DZA": "Algeria", "EGY": "Egypt", "ESH": "Western Sahara",
    "ESP": "Spain", "FRA": "France", "GIB": "Gibraltar", "GRC": "Greece", "ITA": "Italy",
    "LBY": "Libya", "MAR": "Morocco", "MLT": "Malta", "MRT": "Mauritania", "PRT": "Portugal",
    "TUN": "Tunisia", "TUR": "Türkiye",
}  # fmt: skip

WMED, WAFR, CMED, EMED, WBAL, EBOR, BSEA = (
    "Western Mediterranean", "Western African", "Central Mediterranean",
    "Eastern Mediterranean", "Western Balkans", "Eastern Borders", "Black Sea",
)  # fmt: skip

Box = tuple[float, float, float, float]  # lon_min, lat_min, lon_max, lat_max in degrees


@dataclass(frozen=True)
class Sector:
    """A sea sector: a lon/lat box clipped to the named states' OSM polygons."""

    id: str
    name: str
    country: str
    border_section: str
    route: str
    bbox: Box
    clip_to: tuple[str, ...] = ()
    cut_out: tuple[str, ...] = ()


SECTORS = [
    Sector("ES-GIB-STRAIT-N", "Strait of Gibraltar, north side", "ESP", "Spain sea border (Strait)",
           WMED, (-6.05, 35.95, -5.25, 36.25), clip_to=("ESP", "GIB")),
    Sector("MA-GIB-STRAIT-S", "Strait of Gibraltar, south side", "MAR", "Morocco sea border (Strait)",
           WMED, (-6.05, 35.70, -5.25, 36.05), clip_to=("MAR",)),
    Sector("ES-ALBORAN", "Alboran Sea", "ESP", "Spain sea border (Alboran)",
           WMED, (-5.00, 35.30, -1.50, 36.60), cut_out=("MAR", "DZA", "ESP-MAINLAND")),
    Sector("ES-ALMERIA-MURCIA", "Almería–Murcia coast", "ESP", "Spain sea border (Levante)",
           WMED, (-2.95, 36.65, -0.65, 37.90), clip_to=("ESP",)),
    Sector("ES-LANZAROTE", "Approaches to Lanzarote", "ESP", "Spain sea border (Canary Islands)",
           WAFR, (-14.10, 28.84, -13.20, 29.45), clip_to=("ESP",)),
    Sector("ES-FUERTEVENTURA", "Approaches to Fuerteventura", "ESP",
           "Spain sea border (Canary Islands)", WAFR, (-14.60, 27.95, -13.60, 28.84),
           clip_to=("ESP",)),
    Sector("ES-GRAN-CANARIA", "Approaches to Gran Canaria", "ESP",
           "Spain sea border (Canary Islands)", WAFR, (-16.00, 27.60, -15.20, 28.30),
           clip_to=("ESP",)),
    Sector("ES-TENERIFE", "Approaches to Tenerife", "ESP", "Spain sea border (Canary Islands)",
           WAFR, (-17.00, 27.85, -16.00, 28.70), clip_to=("ESP",)),
    Sector("ES-EL-HIERRO", "Approaches to El Hierro", "ESP", "Spain sea border (Canary Islands)",
           WAFR, (-18.30, 27.50, -17.80, 27.95), clip_to=("ESP",)),
    Sector("IT-LAMPEDUSA", "Approaches to Lampedusa", "ITA", "Italy sea border (Pelagie Islands)",
           CMED, (12.20, 35.30, 12.90, 35.80), clip_to=("ITA",)),
    Sector("MT-SICILY-CHANNEL", "Sicily–Malta channel", "MLT", "Malta and Italy sea border",
           CMED, (14.00, 35.75, 15.20, 36.75), cut_out=("ITA-SICILY",)),
    Sector("GR-LESVOS", "Approaches to Lesvos", "GRC", "Greece sea border (Aegean)",
           EMED, (25.80, 38.90, 26.70, 39.45), clip_to=("GRC",)),
    Sector("GR-CHIOS", "Approaches to Chios", "GRC", "Greece sea border (Aegean)",
           EMED, (25.80, 38.10, 26.40, 38.65), clip_to=("GRC",)),
    Sector("GR-SAMOS", "Approaches to Samos", "GRC", "Greece sea border (Aegean)",
           EMED, (26.50, 37.60, 27.10, 37.85), clip_to=("GRC",)),
    Sector("GR-KOS", "Approaches to Kos", "GRC", "Greece sea border (Aegean)",
           EMED, (26.90, 36.70, 27.40, 36.95), clip_to=("GRC",)),
]  # fmt: skip


@dataclass(frozen=True)
class RouteArea:
    """A route's claim: whole countries, parts of countries inside a box, and open sea boxes."""

    id: str
    countries: tuple[str, ...]
    parts: tuple[tuple[str, Box], ...] = ()
    open_sea: tuple[Box, ...] = ()


# The split lines of the overlap rule, as the part of a country a route claims.
SOUTH_OF_31N: Box = (-30.0, 0.0, 45.0, 31.0)
SOUTH_OF_30N: Box = (-30.0, 0.0, 45.0, 30.0)
WEST_OF_4E: Box = (-30.0, 0.0, 4.0, 56.0)

# Highest priority first; each route keeps only what earlier ones left (module docstring).
ROUTE_AREAS = [
    RouteArea(WAFR, ("CPV", "SEN", "GMB", "GNB", "GIN", "MLI", "MRT", "ESH"),
              parts=(("MAR", SOUTH_OF_31N), ("ESP", SOUTH_OF_30N)),
              open_sea=((-30.0, 9.5, -13.0, 21.0), (-30.0, 21.0, -9.0, 31.0))),
    RouteArea(WMED, ("MAR", "ESP", "GIB"), parts=(("DZA", WEST_OF_4E),),
              open_sea=((-11.0, 31.0, -5.6, 37.0), (-5.7, 35.0, 4.0, 41.0))),
    RouteArea(CMED, ("LBY", "TUN", "DZA", "EGY", "NER", "TCD", "SDN", "ITA", "MLT"),
              open_sea=((4.0, 30.0, 23.0, 42.0), (12.0, 42.0, 20.0, 46.0))),
    RouteArea(EMED, ("TUR", "GRC", "CYP", "BGR", "SYR", "LBN", "LBY", "EGY"),
              open_sea=((23.0, 30.0, 36.5, 41.0),)),
    RouteArea(WBAL, ("GRC", "BGR", "ALB", "MKD", "XKX", "SRB", "MNE", "BIH", "HRV", "SVN", "HUN", "ROU",
                     "AUT")),
    RouteArea(EBOR, ("UKR", "MDA", "SVK", "HUN", "ROU")),
    RouteArea(BSEA, ("TUR", "BGR", "ROU"), open_sea=((27.4, 41.0, 34.0, 46.7),)),
]  # fmt: skip

ROUTES_SOURCE = "osm_countries_maritime_routes.geojson"
ROUTE_TOLERANCE_DEG = 0.01  # about 1 km: keeps the catalogue small and lookups fast
GAP_DEG = 0.05  # enclosed gaps narrower than this (slivers between OSM borders) join a neighbour
GRID_DEG = 1e-6  # the catalogue's coordinate precision, also used in the route overlays
THEATRE = box(-19.5, 26.0, 37.0, 46.5)  # the crossings' box (Evros strip)
STRIP_DEG = 0.006  # about 550 m either side of a land border line


def load(name: str) -> dict[str, BaseGeometry]:
    features = json.loads((SOURCES / name).read_text())["features"]
    # Union the parts: make_valid's default would turn overlapping parts into holes.
    return {
        f["properties"]["A3"]: shapely.make_valid(shape(f["geometry"]), method="structure") for f in features
    }


def border_strip(a: BaseGeometry, b: BaseGeometry, land: BaseGeometry) -> BaseGeometry:
    """Land within STRIP_DEG of the edge that polygons a and b share."""
    edge = a.boundary.intersection(b.buffer(0.0005))
    return edge.buffer(STRIP_DEG).intersection(land)


def polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Drop the points and lines an intersection can leave behind."""
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.normalize(shapely.set_precision(shapely.union_all(parts), 1e-6))


def feature(layer: str, geom: BaseGeometry, **props: object) -> dict[str, object]:
    return clean_feature(layer, polygonal(geom), **props)


def clean_feature(layer: str, geom: BaseGeometry, **props: object) -> dict[str, object]:
    """A feature for a geometry that is already polygonal and on the catalogue's grid."""
    return {
        "type": "Feature",
        "properties": {"layer": layer, **props, "source": SOURCE_NOTE},
        "geometry": mapping(geom),
    }


def enclave(name: str, crossing_id: str, label: str) -> dict[str, object]:
    local = load(f"osm_land_coastline_1m_{name}.geojson")
    land = local["ESP"].union(local["MAR"])
    geom = local["ESP"].union(border_strip(local["ESP"], local["MAR"], land))
    props = {
        "id": crossing_id, "name": f"{label} land border", "kind": "fence_section",
        "country": "ESP", "border_section": f"Spain–Morocco land border ({label})", "route": WMED,
    }  # fmt: skip
    return feature("crossing", geom, **props)


def route_claim(
    route: RouteArea, countries: dict[str, BaseGeometry], all_countries: BaseGeometry
) -> BaseGeometry:
    """Everything a route claims before the overlap rule: countries, parts of countries, open sea."""
    geoms = [countries[a3] for a3 in route.countries]
    geoms += [countries[a3].intersection(box(*part)) for a3, part in route.parts]
    geoms += [shapely.difference(box(*sea), all_countries, grid_size=GRID_DEG) for sea in route.open_sea]
    return shapely.union_all(geoms, grid_size=GRID_DEG)


def route_areas(countries: dict[str, BaseGeometry]) -> list[BaseGeometry]:
    """The route areas of ROUTE_AREAS, in its order: disjoint, then simplified together."""
    all_countries = shapely.union_all(list(countries.values()), grid_size=GRID_DEG)
    taken: BaseGeometry = shapely.Polygon()
    areas = []
    for route in ROUTE_AREAS:
        claim = route_claim(route, countries, all_countries)
        area = polygonal(shapely.difference(claim, taken, grid_size=GRID_DEG))
        taken = shapely.union(taken, area, grid_size=GRID_DEG)
        areas.append(area)
    # Overlays leave shared edges with unmatched vertices; simplifying them apart would open gaps.
    coverage = shapely.coverage_clean(
        np.array(areas, dtype=object), gap_width=GAP_DEG, snapping_distance=0.0, merge_strategy="min_index"
    )
    simplified = shapely.coverage_simplify(coverage, ROUTE_TOLERANCE_DEG)
    # Snapping each area to the grid keeps the coverage; polygonal()'s union would not.
    return list(shapely.normalize(shapely.set_precision(simplified, GRID_DEG)))


def build() -> dict[str, object]:
    countries = load("osm_countries_maritime_med_canaries.geojson")
    features: list[dict[str, object]] = []
    for name, crossing_id, label in (
        ("ceuta", "ES-CEUTA-LAND", "Ceuta"),
        ("melilla", "ES-MELILLA-LAND", "Melilla"),
    ):
        features.append(enclave(name, crossing_id, label))
    special = {
        # Spain's mainland coast only, so the Alboran box keeps the open sea and Alborán island.
        "ESP-MAINLAND": countries["ESP"].intersection(box(-10, 36.0, 5, 44)),
        "ITA-SICILY": countries["ITA"].intersection(box(12, 36.55, 16, 38.5)),
    }
    for s in SECTORS:
        geom = box(*s.bbox)
        if s.clip_to:
            geom = geom.intersection(shapely.union_all([countries[c] for c in s.clip_to]))
        for name in s.cut_out:
            geom = geom.difference(special.get(name, countries.get(name)))
        features.append(feature(
            "crossing", geom, id=s.id, name=s.name, kind="sea_sector", country=s.country,
            border_section=s.border_section, route=s.route,
        ))  # fmt: skip
    evros = border_strip(countries["GRC"], countries["TUR"], THEATRE).intersection(
        box(25.9, 40.74, 26.8, 41.8)
    )
    features.append(feature(
        "crossing", evros, id="GR-EVROS-LAND", name="Evros land border", kind="land_crossing",
        country="GRC", border_section="Greece–Türkiye land border (Evros)", route=EMED,
    ))  # fmt: skip
    for a3 in sorted(countries):
        features.append(feature("country", countries[a3], id=a3, name=COUNTRY_NAMES[a3]))
    for route, area in zip(ROUTE_AREAS, route_areas(load(ROUTES_SOURCE))):
        features.append(clean_feature("route", area, id=route.id, name=f"{route.id} route"))
    return {"type": "FeatureCollection", "features": features}


def main() -> None:
    catalogue = build()
    OUT.write_text(json.dumps(catalogue, separators=(",", ":"), sort_keys=True) + "\n")
    counts: dict[str, int] = {}
    for f in catalogue["features"]:  # type: ignore[attr-defined]
        counts[f["properties"]["layer"]] = counts.get(f["properties"]["layer"], 0) + 1
    print(f"wrote {OUT.relative_to(ROOT)}: {counts}, {OUT.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
