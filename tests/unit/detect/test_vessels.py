"""Per-vessel detectors on synthetic tracks with hand-computed expectations."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from geo.catalogue import builtin_path, load_catalogue
from geo.distance import METRES_PER_NM, distance_m
from geo.lookup import locate_one
from geo.ports import load_ports
from schemas.alerts import AlertKind
from schemas.transitions import Direction
from streams.detect.columns import FIX_COLUMNS
from streams.detect.findings import Finding
from streams.detect.thresholds import Thresholds
from streams.detect.transition_rules import TransitionRule, TransitionRules
from streams.detect.vessels import (
    GAP_OPEN,
    LOITERING,
    VesselContext,
    VesselState,
    end_silent_loitering,
    find_gaps,
    forget_vessel,
    track_vessels,
)
from streams.detect.watchlist import WatchList

T = Thresholds()
CATALOGUE = load_catalogue(builtin_path())
# Open sea in the Alboran route area, 40 km from any port in the port list.
SEA = (36.0, -3.6)
T0 = 1_760_000_000.0
GEOFENCE = (AlertKind.GEOFENCE_ENTER, AlertKind.GEOFENCE_EXIT, AlertKind.GEOFENCE_CROSS)


def context(watch: WatchList | None = None) -> VesselContext:
    return VesselContext(T, CATALOGUE.crossings, load_ports(), watch or WatchList())


def fixes(*rows: tuple[Any, ...]) -> dict[str, list[Any]]:
    """rows of (vessel, ts, lat, lon[, mmsi, name]); crossing and route from the real lookup."""
    columns: dict[str, list[Any]] = {c: [] for c in FIX_COLUMNS}
    for n, row in enumerate(rows):
        vessel, ts, lat, lon, *rest = row
        mmsi, name = ([*list(rest), "", ""])[:2]
        crossing, _, route = locate_one(CATALOGUE, lon, lat)
        values = (f"A:{n}", vessel, ts, lat, lon, math.nan, crossing, route, mmsi, "", name, "", "", ts + 5)
        for column, value in zip(columns.values(), values):
            column.append(value)
    return columns


def run_vessels(
    rows: dict[str, list[Any]], states: dict[str, VesselState], ctx: VesselContext
) -> tuple[dict[str, VesselState], list[Finding]]:
    """track_vessels without the transitions, for the tests of the other detectors."""
    changed, found, _ = track_vessels(rows, states, ctx)
    return changed, found


def north_of(lat: float, lon: float, metres: float) -> tuple[float, float]:
    return lat + math.degrees(metres / 6_371_008.8), lon


def kinds(found: list[Any], *only: AlertKind) -> list[AlertKind]:
    return [f.kind for f in found if not only or f.kind in only]


def test_speed_just_over_40_kn_is_implausible_and_exactly_40_is_not() -> None:
    one_hour = 3600.0
    for knots_, expected in ((40.0, []), (40.5, [AlertKind.IMPLAUSIBLE_SPEED])):
        lat2, lon2 = north_of(*SEA, knots_ * METRES_PER_NM)
        states, found = run_vessels(fixes(("v", T0, *SEA), ("v", T0 + one_hour, lat2, lon2)), {}, context())
        assert kinds(found, AlertKind.IMPLAUSIBLE_SPEED) == expected, knots_
        assert states["v"].last_ts == T0 + one_hour


def test_jump_below_noise_distance_is_not_a_speed() -> None:
    lat2, lon2 = north_of(*SEA, T.speed_min_distance_m - 1)
    _, found = run_vessels(fixes(("v", T0, *SEA), ("v", T0 + 1, lat2, lon2)), {}, context())
    assert kinds(found, AlertKind.IMPLAUSIBLE_SPEED) == []


def test_gap_reported_when_it_opens_and_when_the_vessel_reappears() -> None:
    states, _ = run_vessels(fixes(("v", T0, *SEA)), {}, context())
    _, none_yet = find_gaps(states.items(), T0 + T.gap_s - 1, T)
    assert none_yet == []
    opened_states, opened = find_gaps(states.items(), T0 + T.gap_s, T)
    assert [(f.kind, f.active, f.facts["silent_s"]) for f in opened] == [(AlertKind.AIS_GAP, True, T.gap_s)]
    assert opened_states["v"].flags & GAP_OPEN
    # Found once: a later look does not report the same gap again.
    assert find_gaps(opened_states.items(), T0 + 2 * T.gap_s, T)[1] == []

    lat2, lon2 = north_of(*SEA, 10_000)
    back_at = T0 + 8 * 3600
    states2, back = run_vessels(fixes(("v", back_at, lat2, lon2)), opened_states, context())
    (gap,) = [f for f in back if f.kind is AlertKind.AIS_GAP]
    assert not gap.active
    assert gap.facts["gap_s"] == 8 * 3600
    assert gap.facts["gap_distance_m"] == pytest.approx(10_000, rel=1e-6)
    assert not states2["v"].flags & GAP_OPEN


def test_no_gap_outside_any_zone_of_interest() -> None:
    states, _ = run_vessels(fixes(("v", T0, 38.5, 4.0)), {}, context())
    assert find_gaps(states.items(), T0 + 10 * T.gap_s, T)[1] == []


def test_loitering_after_an_hour_below_2_kn_then_resolves_when_moving_on() -> None:
    track = [("v", T0 + k * 600, *north_of(*SEA, k * 300)) for k in range(7)]  # 300 m per 10 min = 0.97 kn
    states, found = run_vessels(fixes(*track[:6]), {}, context())
    assert AlertKind.LOITERING not in kinds(found)  # 50 min
    states, found = run_vessels(fixes(track[6]), states, context())
    found = [f for f in found if f.kind is AlertKind.LOITERING]
    assert [(f.kind, f.active) for f in found] == [(AlertKind.LOITERING, True)]
    assert found[0].facts["duration_s"] == 3600
    fast = ("v", T0 + 4200, *north_of(*SEA, 1800 + 5 * METRES_PER_NM / 6))  # 5 kn
    _, moved = run_vessels(fixes(fast), states, context())
    assert [(f.kind, f.active) for f in moved if f.kind is AlertKind.LOITERING] == [
        (AlertKind.LOITERING, False)
    ]


def test_no_loitering_in_a_port() -> None:
    algeciras = (36.13, -5.44)
    track = [("v", T0 + k * 600, *north_of(*algeciras, k * 50)) for k in range(8)]
    _, found = run_vessels(fixes(*track), {}, context())
    assert AlertKind.LOITERING not in kinds(found)


def strait_and_ceuta_tracks() -> tuple[str, dict[str, list[Any]], dict[str, list[Any]]]:
    """A vessel in and out of the Strait sector; another across the Ceuta strip with no fix inside."""
    strait = "ES-GIB-STRAIT-N"
    inside = CATALOGUE.crossings.geoms[CATALOGUE.crossings.index_of(strait)].representative_point()
    entered = fixes(("v", T0, 36.5, -2.5), ("v", T0 + 3600, inside.y, inside.x), ("v", T0 + 7200, 36.5, -2.5))
    c = CATALOGUE.crossings.geoms[CATALOGUE.crossings.index_of("ES-CEUTA-LAND")].centroid
    across = fixes(("w", T0, c.y - 0.2, c.x), ("w", T0 + 3600, c.y + 0.2, c.x))
    return strait, entered, across


def test_geofence_enter_exit_and_cross_are_transitions_and_no_findings_without_rules() -> None:
    strait, entered, across = strait_and_ceuta_tracks()
    _, found, moves = track_vessels(entered, {}, context())
    assert [(t.direction, t.zone_id, t.event_id) for t in moves] == [
        (Direction.ENTER, strait, "A:1"),
        (Direction.EXIT, strait, "A:2"),
        (Direction.CROSS, "ES-ALBORAN", "A:1"),  # both legs pass through the Alboran sector
        (Direction.CROSS, "ES-ALBORAN", "A:2"),
    ]
    enter = moves[0]
    assert (enter.vessel_key, enter.route, enter.lat) == ("v", "Western Mediterranean", entered["lat"][1])
    assert enter.observed_at.timestamp() == T0 + 3600
    assert enter.received_at is not None and enter.received_at.timestamp() == T0 + 3605
    assert moves[1].route == "Western Mediterranean"  # the route of the zone it left
    assert [f for f in found if f.kind in GEOFENCE] == []

    _, found, moves = track_vessels(across, {}, context())
    assert [(t.direction, t.zone_id, t.event_id) for t in moves] == [
        (Direction.ENTER, strait, "A:1"),  # the end of the leg is in the Strait sector
        (Direction.CROSS, "MA-GIB-STRAIT-S", "A:1"),
        (Direction.CROSS, "ES-CEUTA-LAND", "A:1"),
    ]
    assert [f for f in found if f.kind in GEOFENCE] == []


def test_a_rule_turns_its_transitions_into_the_geofence_findings() -> None:
    strait, entered, across = strait_and_ceuta_tracks()
    rules = TransitionRules((TransitionRule(name="strait", zones=[strait], directions=[Direction.ENTER]),))
    ctx = VesselContext(T, CATALOGUE.crossings, load_ports(), WatchList(), rules)
    _, found, moves = track_vessels(entered, {}, ctx)
    assert len(moves) == 4
    (finding,) = [f for f in found if f.kind in GEOFENCE]
    assert (finding.kind, finding.group, finding.zone_id, finding.event_ids, finding.ts) == (
        AlertKind.GEOFENCE_ENTER, f"v@{strait}", strait, ("A:1",), T0 + 3600,
    )  # fmt: skip
    _, found, moves = track_vessels(across, {}, ctx)  # crossing other zones: data only
    assert len(moves) == 3
    assert [(f.kind, f.zone_id) for f in found if f.kind in GEOFENCE] == [(AlertKind.GEOFENCE_ENTER, strait)]


def test_watch_list_matches_mmsi_and_name_case_insensitively() -> None:
    watch = WatchList(mmsi={"224000001": "smuggling"}, name={"BLUE STAR": ""})
    rows = fixes(("a", T0, *SEA, "224000001"), ("b", T0, *SEA, "", "Blue Star"), ("c", T0, *SEA))
    _, found = run_vessels(rows, {}, context(watch))
    assert sorted(f.group for f in found if f.kind is AlertKind.VESSEL_OF_INTEREST) == ["a", "b"]


def test_out_of_order_and_replayed_fixes_change_nothing() -> None:
    states, _ = run_vessels(fixes(("v", T0, *SEA)), {}, context())
    lat2, lon2 = north_of(*SEA, 100_000)
    again, found = run_vessels(fixes(("v", T0 - 10, lat2, lon2), ("v", T0, lat2, lon2)), states, context())
    assert found == [] and again == {}


def test_state_packs_small_and_round_trips() -> None:
    state = VesselState(T0, 36.0, -3.6, math.nan, 0.0, GAP_OPEN, "ES-ALBORAN", "Western Mediterranean")
    packed = state.pack()
    assert len(packed) < 100
    back = VesselState.unpack(packed)
    assert back._replace(loiter_start_ts=0) == state._replace(loiter_start_ts=0)
    assert math.isnan(back.loiter_start_ts)


def test_distance_scalar_matches_vectorised() -> None:
    from geo.distance import haversine_m

    assert distance_m(36.0, -5.0, 35.0, -4.0) == pytest.approx(
        float(haversine_m([36.0], [-5.0], [35.0], [-4.0])[0])
    )


def holding(step_s: tuple[float, ...], minutes: float, knots_north: float = 0.0) -> list[tuple[Any, ...]]:
    """A vessel at `knots_north` (0: holding position) with GPS noise of up to 20 m, fixes every
    `step_s` seconds (cycled), seeded."""
    rng = random.Random(3)
    rows, ts, n = [], T0, 0
    while ts < T0 + minutes * 60:
        north = (ts - T0) * knots_north * METRES_PER_NM / 3600 + rng.uniform(-20, 20)
        lat, lon = north_of(*SEA, north)
        rows.append(("v", ts, lat, lon + rng.uniform(-20, 20) / 90_000))
        ts += step_s[n % len(step_s)]
        n += 1
    return rows


@pytest.mark.parametrize("step_s", [(2.0, 3.0), (10.0,), (180.0,)])
def test_a_vessel_holding_position_with_fixes_seconds_apart_is_loitering(step_s: tuple[float, ...]) -> None:
    # Leg by leg, 20 m of GPS noise in 2-3 s reads as 15 kn: the vessel never looked slow.
    track = holding(step_s, 75)
    _, at_once = run_vessels(fixes(*track), {}, context())
    loitering = [f for f in at_once if f.kind is AlertKind.LOITERING]
    assert [f.active for f in loitering] == [True]
    assert T.loiter_min_s <= loitering[0].ts - T0 <= T.loiter_min_s + 400
    states: dict[str, VesselState] = {}
    one_by_one: list[Finding] = []
    for row in track:
        changed, found = run_vessels(fixes(row), states, context())
        states.update(changed)
        one_by_one += found
    assert [(f.kind, f.ts, f.active) for f in one_by_one] == [(f.kind, f.ts, f.active) for f in at_once]


@pytest.mark.parametrize("knots_north", [2.5, 10.0])
def test_a_vessel_under_way_with_fixes_seconds_apart_is_not_loitering(knots_north: float) -> None:
    _, found = run_vessels(fixes(*holding((2.0, 3.0), 90, knots_north)), {}, context())
    assert AlertKind.LOITERING not in kinds(found)


def test_a_state_holding_a_reference_fix_packs_and_round_trips() -> None:
    state = VesselState(
        T0, 36.0, -3.6, T0 - 600, 120.0, 0, "", "Western Mediterranean", T0 - 20, 36.0001, -3.6002
    )
    assert VesselState.unpack(state.pack()) == state
    plain = state._replace(ref_ts=math.nan, ref_lat=math.nan, ref_lon=math.nan)
    # Without one, the bytes are those of the release before (tests/data/changelog holds some).
    assert len(plain.pack()) < len(state.pack()) and VesselState.unpack(plain.pack()).ref_ts != T0 - 20


def test_loitering_ends_where_a_vessel_went_silent_whether_found_silent_or_back() -> None:
    # Silent, it is no longer seen loitering: before, its alert stayed open, raised anew every 72 h.
    track = holding((180.0,), 90)
    states, found = run_vessels(fixes(*track), {}, context())
    assert [f.active for f in found if f.kind is AlertKind.LOITERING] == [True]
    last = track[-1][1]
    silent_s = max(T.gap_s, T.allowed_lateness_s)  # not before its late fixes may still come
    assert end_silent_loitering(states.items(), last + silent_s - 1, T) == ({}, [])
    stopped, ends = end_silent_loitering(states.items(), last + silent_s, T)
    assert [(f.kind, f.active, f.ts, f.start_ts) for f in ends] == [(AlertKind.LOITERING, False, last, T0)]
    assert ends[0].detail == f"v went silent after loitering for {(last - T0) / 3600:.1f} h"
    assert not stopped["v"].flags & LOITERING and math.isnan(stopped["v"].loiter_start_ts)
    # Back at the same place after a silence of gap_s, before any look for the silent: the same end.
    back = ("v", last + T.gap_s + 600, *track[-1][2:])
    _, returned = run_vessels(fixes(back), states, context())
    assert [f for f in returned if f.kind is AlertKind.LOITERING] == ends
    _, after_stop = run_vessels(fixes(back), stopped, context())
    assert [f for f in after_stop if f.kind is AlertKind.LOITERING] == []


def test_a_vessel_silent_for_the_forget_time_ends_its_gap_and_starts_anew() -> None:
    states, _ = run_vessels(fixes(("v", T0, *SEA)), {}, context())
    opened, _ = find_gaps(states.items(), T0 + T.gap_s, T)
    assert forget_vessel("v", states["v"], T) == []  # no gap open: nothing to end
    (end,) = forget_vessel("v", opened["v"], T)
    assert (end.kind, end.active, end.start_ts) == (AlertKind.AIS_GAP, False, T0)
    assert end.ts == T0 + T.vessel_forget_s
    assert end.detail == "v silent over 30 days: no longer tracked"
    # Back after it, before any look: the same end, and a new track (no jump, no "reappeared").
    far = ("v", T0 + T.vessel_forget_s + 60, *north_of(*SEA, 900_000))
    changed, found = run_vessels(fixes(far), opened, context())
    assert found == [end]
    assert changed["v"] == VesselState(far[1], far[2], far[3], math.nan, 0.0, 0, "", changed["v"].route)


def test_a_forgotten_vessel_ends_a_loitering_left_open_beside_its_gap() -> None:
    state = VesselState(T0, *SEA, T0 - 7200, 100.0, LOITERING | GAP_OPEN, "", "west_med")
    loitering, gap = forget_vessel("v", state, T)
    assert (loitering.kind, loitering.active, loitering.ts, loitering.start_ts) == (
        AlertKind.LOITERING, False, T0, T0 - 7200
    )  # fmt: skip
    assert (gap.kind, gap.active) == (AlertKind.AIS_GAP, False)
    stopped, (end,) = end_silent_loitering([("v", state)], T0 + max(T.gap_s, T.allowed_lateness_s), T)
    assert end == loitering and stopped["v"].flags == GAP_OPEN
