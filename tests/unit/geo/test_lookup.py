"""Geofences on the real OSM-derived catalogue: known places, overlap rule, array lookups."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo import load_catalogue, locate, locate_one
from geo.catalogue import builtin_path
from schemas.errors import CatalogueError

CATALOGUE = load_catalogue()

# (lon, lat) of real places, with the (crossing, country, route) they must get.
PLACES = {
    "Ceuta, Plaza de África": ((-5.3170, 35.8890), ("ES-CEUTA-LAND", "ESP", "Western Mediterranean")),
    "Tangier medina": ((-5.8340, 35.7595), ("MA-GIB-STRAIT-S", "MAR", "Western Mediterranean")),
    "Melilla centre": ((-2.9380, 35.2920), ("ES-MELILLA-LAND", "ESP", "Western Mediterranean")),
    "Lampedusa harbour": ((12.6050, 35.5000), ("IT-LAMPEDUSA", "ITA", "Central Mediterranean")),
    "Mytilene, Lesvos": ((26.5550, 39.1050), ("GR-LESVOS", "GRC", "Eastern Mediterranean")),
    "Arrecife, Lanzarote": ((-13.5500, 28.9600), ("ES-LANZAROTE", "ESP", "Western African")),
    "La Restinga, El Hierro": ((-17.9830, 27.6400), ("ES-EL-HIERRO", "ESP", "Western African")),
    "Alboran Sea, open water": ((-3.5000, 35.9000), ("ES-ALBORAN", "", "Western Mediterranean")),
    "Tripoli": ((13.1900, 32.8900), ("", "LBY", "Central Mediterranean")),
    "Atlantic west of Madeira": ((-18.0, 30.0), ("", "", "Western African")),
    "Bay of Biscay, open water": ((-4.0, 45.0), ("", "", "other")),
    "Marseille": ((5.3700, 43.2960), ("", "FRA", "other")),
}  # fmt: skip


@pytest.mark.parametrize("place", sorted(PLACES))
def test_known_places(place: str) -> None:
    (lon, lat), expected = PLACES[place]
    assert locate_one(CATALOGUE, lon, lat) == expected


def test_gibraltar_lies_in_gib_and_esp_and_the_smaller_polygon_wins() -> None:
    lon, lat = -5.3500, 36.1400  # Gibraltar, east side of the Rock
    countries = CATALOGUE.countries
    holding = np.flatnonzero(shapely.contains_xy(countries.geoms, lon, lat))
    assert sorted(countries.ids[i] for i in holding) == ["ESP", "GIB"]
    assert locate_one(CATALOGUE, lon, lat)[1] == "GIB"


def test_every_required_crossing_is_there_with_its_properties() -> None:
    required = {
        "ES-CEUTA-LAND", "ES-MELILLA-LAND", "ES-GIB-STRAIT-N", "MA-GIB-STRAIT-S", "ES-ALBORAN",
        "ES-ALMERIA-MURCIA", "ES-LANZAROTE", "ES-FUERTEVENTURA", "ES-GRAN-CANARIA", "ES-TENERIFE",
        "ES-EL-HIERRO", "IT-LAMPEDUSA", "MT-SICILY-CHANNEL", "GR-LESVOS", "GR-SAMOS", "GR-CHIOS",
        "GR-KOS", "GR-EVROS-LAND",
    }  # fmt: skip
    assert required <= set(CATALOGUE.crossings.ids)
    for props in CATALOGUE.crossings.props:
        assert props["kind"] in {"land_crossing", "fence_section", "sea_sector"}
        assert props["country"] and props["border_section"] and props["route"]


def test_array_and_scalar_lookups_agree() -> None:
    rng = np.random.default_rng(7)
    lon = np.concatenate([rng.uniform(-19.5, 37, 3000), rng.uniform(-5.4, -5.25, 1000)])
    lat = np.concatenate([rng.uniform(26, 46.5, 3000), rng.uniform(35.85, 35.93, 1000)])
    found = locate(CATALOGUE, lon, lat)
    for i in range(0, len(lon), 97):
        assert locate_one(CATALOGUE, lon[i], lat[i]) == (
            found.crossing_id[i],
            found.country[i],
            found.route[i],
        )
    assert (found.crossing_id == "ES-CEUTA-LAND").sum() > 0


def test_nan_positions_are_in_no_zone() -> None:
    found = locate(CATALOGUE, [np.nan], [np.nan])
    assert (found.crossing_id[0], found.country[0], found.route[0]) == ("", "", "other")


def _write(tmp_path: Path, mutate: object) -> Path:
    document = json.loads(builtin_path().read_text())
    mutate(document["features"])  # type: ignore[operator]
    path = tmp_path / "catalogue.geojson"
    path.write_text(json.dumps(document))
    return path


def test_a_duplicate_id_is_refused_naming_it(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda fs: fs.append(fs[0]))
    with pytest.raises(CatalogueError, match="duplicate crossing id 'ES-CEUTA-LAND'"):
        load_catalogue(path)


def test_a_missing_property_is_refused_naming_the_feature(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda fs: fs[1]["properties"].pop("border_section"))
    with pytest.raises(CatalogueError, match=r"id='ES-MELILLA-LAND'.*missing property 'border_section'"):
        load_catalogue(path)


def test_an_invalid_geometry_is_refused_naming_the_feature(tmp_path: Path) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    path = _write(tmp_path, lambda fs: fs[2].update(geometry=bowtie))
    with pytest.raises(CatalogueError, match=r"id='ES-GIB-STRAIT-N'.*invalid geometry \(Self-intersection"):
        load_catalogue(path)


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.geojson"
    path.write_text("{not json")
    with pytest.raises(CatalogueError, match="cannot read geofence catalogue"):
        load_catalogue(path)
