"""Build geo/data/catalogue.geojson from the OpenStreetMap polygons in geo/data/sources.

Crossings are cut from real polygons: land borders are a strip around the
shared edge of two OSM country polygons (plus the enclave itself for Ceuta and
Melilla); sea sectors are a published sector's lon/lat box intersected with
the OSM land-plus-territorial-sea polygon of the state that patrols it. Route
areas are boxes around Frontex's route theatres made disjoint by priority.

Run: python scripts/build_geofences.py   (deterministic; rewrites the catalogue)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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

WMED, WAFR, CMED, EMED, WBAL = (
    "Western Mediterranean", "Western African", "Central Mediterranean",
    "Eastern Mediterranean", "Western Balkans",
)  # fmt: skip


@dataclass(frozen=True)
class Sector:
    """A sea sector: a lon/lat box clipped to the named states' OSM polygons."""

    id: str
    name: str
    country: str
    border_section: str
    route: str
    bbox: tuple[float, float, float, float]
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

# Route theatres, highest priority first; each keeps only what earlier ones left.
ROUTE_AREAS = [
    (EMED, [(23.0, 30.0, 37.0, 42.2)], ("GRC", "CYP")),
    (WBAL, [(18.4, 40.2, 23.0, 46.5)], ("ALB",)),
    (CMED, [(4.0, 30.0, 23.0, 41.5)], ()),
    (WAFR, [(-19.5, 26.0, -9.5, 32.5)], ()),
    (WMED, [(-9.5, 32.5, 4.0, 42.0)], ()),
]

THEATRE = box(-19.5, 26.0, 37.0, 46.5)
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
    return {
        "type": "Feature",
        "properties": {"layer": layer, **props, "source": SOURCE_NOTE},
        "geometry": mapping(polygonal(geom)),
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
    taken = shapely.Polygon()
    for route, boxes, extra in ROUTE_AREAS:
        area = shapely.union_all([box(*b) for b in boxes] + [countries[c] for c in extra])
        area = area.intersection(THEATRE).difference(taken)
        taken = taken.union(area)
        features.append(feature("route", area, id=route, name=f"{route} route"))
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
