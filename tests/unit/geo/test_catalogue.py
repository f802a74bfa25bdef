"""Route areas of the built-in catalogue: places on Frontex's routes, split lines, disjointness."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo import load_catalogue, locate, locate_one
from geo.catalogue import builtin_path
from geo.lookup import NO_ZONE, locate_zones

CATALOGUE = load_catalogue()

# (lon, lat) of real places, with the route they must get.
PLACES = {
    "Dakar": ((-17.4467, 14.6928), "Western African"),
    "Nouadhibou": ((-17.0347, 20.9310), "Western African"),
    "Banjul": ((-16.5790, 13.4549), "Western African"),
    "Bihać": ((15.8708, 44.8169), "Western Balkans"),
    "Velika Kladuša": ((15.8058, 45.1842), "Western Balkans"),
    "Subotica": ((19.6658, 46.1003), "Western Balkans"),
    "Edirne": ((26.5557, 41.6772), "Eastern Mediterranean"),
    "Tobruk": ((23.9764, 32.0836), "Central Mediterranean"),
    "Zuwara": ((12.0820, 32.9312), "Central Mediterranean"),
    "Sfax": ((10.7603, 34.7406), "Central Mediterranean"),
}  # fmt: skip

# Places either side of a split line or of a route's edge.
BOUNDARIES = {
    "Tejeda, Gran Canaria (Spain south of 30°N)": ((-15.6150, 27.9950), "Western African"),
    "Almería (Spain north of 30°N)": ((-2.4637, 36.8340), "Western Mediterranean"),
    "Agadir (Morocco south of 31°N)": ((-9.5981, 30.4278), "Western African"),
    "Casablanca (Morocco north of 31°N)": ((-7.5898, 33.5731), "Western Mediterranean"),
    "Oran (Algeria west of 4°E)": ((-0.6337, 35.6971), "Western Mediterranean"),
    "Annaba (Algeria east of 4°E)": ((7.7667, 36.9000), "Central Mediterranean"),
    "Heraklion, Crete": ((25.1442, 35.3387), "Eastern Mediterranean"),
    "Strait of Sicily, open sea": ((11.8, 36.2), "Central Mediterranean"),
    "Atlantic off Cap Blanc, open sea": ((-19.0, 22.0), "Western African"),
    "Odesa": ((30.7233, 46.4825), "Eastern Borders"),
    "Western Black Sea, open sea": ((31.0, 43.5), "Black Sea"),
    "Mid-Atlantic, far from every route": ((-35.0, 35.0), "other"),
    "Lisbon (Portugal is on no route)": ((-9.1393, 38.7223), "other"),
}  # fmt: skip


def route_area_of(lon_deg: float, lat_deg: float) -> str:
    """The route area holding a point, ignoring crossings (which carry their own route)."""
    index = locate_zones(CATALOGUE.routes, [lon_deg], [lat_deg])[0]
    return "other" if index == NO_ZONE else CATALOGUE.routes.ids[index]


@pytest.mark.parametrize("place", sorted(PLACES))
def test_places_on_frontex_routes_get_their_route(place: str) -> None:
    (lon, lat), route = PLACES[place]
    assert locate_one(CATALOGUE, lon, lat)[2] == route
    assert route_area_of(lon, lat) == route


@pytest.mark.parametrize("place", sorted(BOUNDARIES))
def test_split_lines_and_edges(place: str) -> None:
    (lon, lat), route = BOUNDARIES[place]
    assert route_area_of(lon, lat) == route
    assert locate_one(CATALOGUE, lon, lat)[2] == route


def test_route_ids_are_frontex_routes() -> None:
    assert set(CATALOGUE.routes.ids) == {
        "Western Mediterranean", "Western African", "Central Mediterranean", "Eastern Mediterranean",
        "Western Balkans", "Eastern Borders", "Black Sea",
    }  # fmt: skip


def test_route_areas_are_pairwise_disjoint() -> None:
    # "2********": the interiors meet in an area; shared edges and corners are allowed.
    for (a, geom_a), (b, geom_b) in itertools.combinations(
        zip(CATALOGUE.routes.ids, CATALOGUE.routes.geoms), 2
    ):
        assert not shapely.relate_pattern(geom_a, geom_b, "2********"), (a, b)


def test_a_crossing_and_the_route_area_around_it_agree() -> None:
    crossings = CATALOGUE.crossings
    points = shapely.point_on_surface(crossings.geoms)
    lon, lat = shapely.get_x(points), shapely.get_y(points)
    found = locate(CATALOGUE, lon, lat)
    areas = locate_zones(CATALOGUE.routes, lon, lat)
    assert (areas != NO_ZONE).all()
    assert list(found.route) == [props["route"] for props in crossings.props]
    assert list(np.array(CATALOGUE.routes.ids)[areas]) == list(found.route)


def test_an_unchanged_file_is_checked_once_and_a_changed_one_again(tmp_path: Path) -> None:
    copy = tmp_path / "catalogue.geojson"
    copy.write_bytes(builtin_path().read_bytes())
    first = load_catalogue(copy)
    assert load_catalogue(copy) is first
    document = json.loads(copy.read_text())
    document["features"] = [f for f in document["features"] if f["properties"]["id"] != "ES-CEUTA-LAND"]
    copy.write_text(json.dumps(document))
    changed = load_catalogue(copy)
    assert "ES-CEUTA-LAND" in first.crossings.ids and "ES-CEUTA-LAND" not in changed.crossings.ids
