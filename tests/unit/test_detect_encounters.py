"""Encounter detector on two synthetic tracks, split over grid cells as the worker splits them."""

from __future__ import annotations

import math

from geo.ports import load_ports
from schemas.alerts import AlertKind
from streams.detect.encounters import CellFix, CellState, cell_id, cells_of, detect_encounters
from streams.detect.thresholds import Thresholds

T = Thresholds()
PORTS = load_ports()
T0 = 1_760_000_000.0
MOTHER = (35.95, -3.55)  # Alboran Sea, far from ports


def offset(lat: float, lon: float, north_m: float) -> tuple[float, float]:
    return lat + math.degrees(north_m / 6_371_008.8), lon


def run(tracks: dict[str, list[tuple[float, float, float, float]]]) -> list[tuple[AlertKind, bool, str]]:
    """Feed (ts, lat, lon, sog) fixes cell by cell, in time order, the way the agent does."""
    cells: dict[str, CellState] = {}
    found = []
    rows = sorted((f[0], v, f) for v, fixes in tracks.items() for f in fixes)
    for ts, vessel, (_, lat, lon, sog) in rows:
        for n, cell in enumerate(cells_of(lat, lon, T.encounter_distance_m)):
            fix = CellFix(vessel, ts, lat, lon, sog, f"A:{vessel}:{ts}", "ES-ALBORAN", "WM", home=n == 0)
            state = cells.setdefault(cell, CellState())
            found += detect_encounters(cell, [fix], state, ts, T, PORTS)
    return [(f.kind, f.active, f.group) for f in found]


def test_meeting_for_exactly_the_minimum_time_is_reported_once_and_resolves_on_separation() -> None:
    minutes = range(0, 11)  # 0 .. 10 min: exactly encounter_min_s
    mother = [(T0 + m * 60, *MOTHER, 0.5) for m in minutes]
    gofast = [(T0 + m * 60 + 1, *offset(*MOTHER, 400), 1.0) for m in minutes]
    gone = (T0 + 11 * 60 + 1, *offset(*MOTHER, 5000), 30.0)
    found = run({"mmsi:1": mother, "mmsi:2": [*gofast, gone]})
    assert found == [
        (AlertKind.ENCOUNTER, True, "mmsi:1|mmsi:2"),
        (AlertKind.ENCOUNTER, False, "mmsi:1|mmsi:2"),
    ]


def test_one_minute_short_or_too_far_or_too_fast_is_no_encounter() -> None:
    mother = [(T0 + m * 60, *MOTHER, 0.5) for m in range(10)]  # 9 minutes
    near = [(T0 + m * 60 + 1, *offset(*MOTHER, 400), 1.0) for m in range(10)]
    assert run({"a": mother, "b": near}) == []
    mother = [(T0 + m * 60, *MOTHER, 0.5) for m in range(12)]
    far = [(T0 + m * 60 + 1, *offset(*MOTHER, 501), 1.0) for m in range(12)]
    assert run({"a": mother, "b": far}) == []
    slow_and_fast = [(T0 + m * 60 + 1, *offset(*MOTHER, 400), 3.0) for m in range(12)]
    assert run({"a": mother, "b": slow_and_fast}) == []  # together the median is 1.75 kn; each must be slow
    fast = [(T0 + m * 60 + 1, *offset(*MOTHER, 400), 3.0) for m in range(12)]
    fast_mother = [(T0 + m * 60, *MOTHER, 3.0) for m in range(12)]
    assert run({"a": fast_mother, "b": fast}) == []


def test_pair_across_a_cell_boundary_is_found() -> None:
    edge_lat = 36.0  # a cell boundary (0.05 degree grid)
    south = (edge_lat - 0.001, -3.55)
    north = (edge_lat + 0.001, -3.55)
    assert cell_id(*south) != cell_id(*north)
    found = run(
        {
            "a": [(T0 + m * 60, *south, 0.5) for m in range(12)],
            "b": [(T0 + m * 60 + 1, *north, 0.5) for m in range(12)],
        }
    )
    assert found == [(AlertKind.ENCOUNTER, True, "a|b")]
