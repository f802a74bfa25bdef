"""Encounter detector on two synthetic tracks, split over grid cells as the worker splits them."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from geo.ports import load_ports
from schemas.alerts import AlertKind, Impact
from streams.detect.encounters import (
    DARK,
    CellFix,
    CellState,
    DarkPair,
    LastFix,
    cell_id,
    cells_of,
    detect_encounters,
)
from streams.detect.findings import Finding
from streams.detect.runtime import is_cell_state
from streams.detect.thresholds import Thresholds

T = Thresholds()
PORTS = load_ports()
T0 = 1_760_000_000.0
MOTHER = (35.95, -3.55)  # Alboran Sea, far from ports
SEA = (35.925, -3.525)  # the middle of cell 718:-71: a fix within 500 m of it reaches no other cell
H = 3600.0

Track = list[tuple[float, float, float, float]]  # (ts, lat, lon, sog)


def offset(lat: float, lon: float, north_m: float, east_m: float = 0.0) -> tuple[float, float]:
    d_lat = math.degrees(north_m / 6_371_008.8)
    return lat + d_lat, lon + math.degrees(east_m / 6_371_008.8) / math.cos(math.radians(lat))


def feed(
    tracks: dict[str, Track], cells: dict[str, Any] | None = None, clock_ts: float | None = None
) -> list[Finding]:
    """Feed (ts, lat, lon, sog) fixes cell by cell, in time order, the way the agent does.

    Each cell's state lives as JSON between fixes and is dropped when empty, as in
    `CellDetector.on_batch`; the clock is each fix's time unless given.
    """
    cells = {} if cells is None else cells
    found = []
    rows = sorted((f[0], v, f) for v, fixes in tracks.items() for f in fixes)
    for ts, vessel, (_, lat, lon, sog) in rows:
        for n, cell in enumerate(cells_of(lat, lon, T.encounter_distance_m)):
            fix = CellFix(vessel, ts, lat, lon, sog, f"A:{vessel}:{ts}", "ES-ALBORAN", "WM", home=n == 0)
            stored = cells.get(cell)
            assert stored is None or is_cell_state(stored)
            state = CellState.from_json(stored) if stored else CellState()
            found += detect_encounters(cell, [fix], state, ts if clock_ts is None else clock_ts, T, PORTS)
            if state.vessels or state.pairs:
                cells[cell] = json.loads(json.dumps(state.to_json(), allow_nan=False))
            else:
                cells.pop(cell, None)
    return found


def run(tracks: dict[str, Track]) -> list[tuple[AlertKind, bool, str]]:
    return [(f.kind, f.active, f.group) for f in distinct(feed(tracks))]


def distinct(found: list[Finding]) -> list[Finding]:
    """The findings less repeats: cells within position noise of a pair each keep the same record of
    it and say the same thing at the same fix (grouping makes one alert state of them)."""
    first: dict[tuple[object, ...], Finding] = {}
    for f in found:
        first.setdefault((f.kind, f.group, f.active, f.ts, f.start_ts, f.detail), f)
    return list(first.values())


def meeting(where: tuple[float, float] = SEA, minutes: int = 11) -> dict[str, Track]:
    """a and b 400 m apart and slow, one fix a minute: an encounter at b's fix at T0 + 601 s."""
    return {
        "a": [(T0 + m * 60, *where, 0.5) for m in range(minutes)],
        "b": [(T0 + m * 60 + 1, *offset(*where, 400), 1.0) for m in range(minutes)],
    }


DARK_TS = T0 + 601  # when a and b of `meeting()` are last seen together
ENCOUNTER = (AlertKind.ENCOUNTER, True, "a|b")
ENDED = (AlertKind.ENCOUNTER, False, "a|b")


def back(tracks: dict[str, Track], at: float, where: tuple[float, float], apart_m: float = 400) -> None:
    """Both vessels report again from `at` (a first, b one second later), `apart_m` apart."""
    tracks["a"].append((at, *where, 0.3))
    tracks["b"].append((at + 1, *offset(*where, apart_m), 0.4))


def test_meeting_for_exactly_the_minimum_time_is_reported_once_and_resolves_on_separation() -> None:
    minutes = range(0, 11)  # 0 .. 10 min: exactly encounter_min_s
    mother = [(T0 + m * 60, *MOTHER, 0.5) for m in minutes]
    gofast = [(T0 + m * 60 + 1, *offset(*MOTHER, 400), 1.0) for m in minutes]
    gone = (T0 + 15 * 60 + 1, *offset(*MOTHER, 5000), 30.0)  # 5 km in 5 min: a plausible 32 kn
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


def test_a_pair_dark_together_and_back_together_is_one_encounter_flagged_as_a_dark_meeting() -> None:
    tracks = meeting()
    drifted = offset(*SEA, 300, 900)  # 3 h later, drifted about 1 km: still within cell 718:-71
    back(tracks, DARK_TS + 3 * H, drifted)  # a back at DARK_TS + 3 h, b one second later
    tracks["a"] += [(DARK_TS + 3 * H + m * 60, *drifted, 0.3) for m in range(1, 4)]
    tracks["b"].append((DARK_TS + 3 * H + 181, *offset(*drifted, 0, -2000), 9.0))  # then b leaves
    found = feed(tracks)
    assert [(f.active, f.impact) for f in found] == [
        (True, Impact.HIGH),  # the encounter, at T0 + 601
        (True, Impact.VERY_HIGH),  # the same one, now a dark meeting: grouping notifies again
        (False, Impact.HIGH),  # b leaves
    ]
    assert {f.group_id for f in found} == {"encounter:a|b"}
    start, dark_meeting, end = found
    assert dark_meeting.ts == DARK_TS + 3 * H + 1  # b's return
    assert dark_meeting.start_ts == start.start_ts == T0 + 1
    assert dark_meeting.facts == {"dark_s": 3 * H, "duration_s": 3 * H + 601}  # from T0 + 1
    assert dark_meeting.detail == "a and b went dark together for 3.0 h and reappeared together: dark meeting"
    assert end.detail == "a and b separated after 193 min"  # T0 + 1 to a's last fix, T0 + 601 + 3 h + 180 s


def test_a_dark_pair_that_comes_back_apart_or_alone_ends() -> None:
    tracks = meeting()
    back(tracks, DARK_TS + 3 * H, SEA, apart_m=2000)
    # Both back and apart: still waited for, for encounter_max_dt_s (a first fix back can be a jump) ...
    tracks["b"].append((DARK_TS + 3 * H + T.encounter_max_dt_s, *offset(*SEA, 2000), 0.4))
    assert run_with({}, tracks) == [ENCOUNTER]
    tracks["b"].append((DARK_TS + 3 * H + T.encounter_max_dt_s + 2, *offset(*SEA, 2000), 0.4))
    found = feed(tracks)  # ... and no longer
    assert [(f.kind, f.active, f.group) for f in found] == [ENCOUNTER, ENDED]
    assert found[1].detail == "a and b went dark together and did not reappear together"
    assert found[1].ts == DARK_TS  # the encounter's last moment: when the pair was last seen together

    jump = meeting()  # a's first fix back is 700 m off (AIS jitter), its next ones beside b
    back(jump, DARK_TS + 3 * H, offset(*SEA, -300), apart_m=1000)
    jump["a"] += [(DARK_TS + 3 * H + 60 * m, *SEA, 0.3) for m in range(1, 4)]
    jump["b"] += [(DARK_TS + 3 * H + 60 * m + 1, *offset(*SEA, 400), 0.4) for m in range(1, 4)]
    assert [(f.active, f.impact) for f in distinct(feed(jump))] == [
        (True, Impact.HIGH),
        (True, Impact.VERY_HIGH),
    ]

    alone = meeting()
    alone["a"] += [(DARK_TS + 3 * H + m * 60, *SEA, 0.3) for m in range(12)]  # a back for 11 min, b never
    found = feed(alone)
    assert [(f.kind, f.active, f.group) for f in found] == [ENCOUNTER, ENDED]
    assert found[1].detail == "a and b went dark together and did not reappear together"

    late = meeting()  # b comes back too, but more than encounter_max_dt_s after a
    late["a"] += [(DARK_TS + 3 * H + m * 60, *SEA, 0.3) for m in range(9)]
    late["b"].append((DARK_TS + 3 * H + 601, *offset(*SEA, 400), 0.3))
    assert run(late) == [ENCOUNTER, ENDED]


def test_one_vessel_silent_beside_the_other_is_still_the_same_encounter() -> None:
    # A receiver misses one of a moored pair for two hours while the other reports from beside it.
    tracks = meeting()
    tracks["a"] += [(T0 + 600 + m * 300, *SEA, 0.5) for m in range(1, 25)]  # a on for 2 h, b silent
    tracks["b"] += [(T0 + 600 + 2 * H + m * 60, *offset(*SEA, 400), 0.4) for m in range(3)]  # b back
    tracks["a"] += [(T0 + 600 + 2 * H + m * 60 + 30, *SEA, 0.5) for m in range(3)]
    found = feed(tracks)
    assert [(f.kind, f.active, f.group) for f in found] == [ENCOUNTER]  # no end, and no dark meeting


def test_one_vessel_silent_ends_the_encounter_when_the_other_leaves_or_after_the_dark_time() -> None:
    leaves = meeting()  # b silent; a stays 30 min, then is 2 km away
    leaves["a"] += [(T0 + 600 + m * 300, *SEA, 0.5) for m in range(1, 7)]
    leaves["a"].append((T0 + 600 + 7 * 300, *offset(*SEA, 0, 2000), 1.0))
    found = feed(leaves)
    assert [(f.kind, f.active, f.group) for f in found] == [ENCOUNTER, ENDED]
    assert found[1].detail == "a and b no longer seen together"
    assert found[1].ts == T0 + 1200  # a's last fix within encounter_max_dt_s of b's last one

    stays = meeting()  # b never back; a beside b's last position for 13 h
    stays["a"] += [(T0 + 600 + m * 600, *SEA, 0.5) for m in range(1, 79)]
    found = feed(stays)
    assert [(f.kind, f.active, f.group) for f in found] == [ENCOUNTER, ENDED]
    assert found[1].detail == "a and b no longer seen together: b silent over 12.0 h"


def test_dark_for_exactly_encounter_dark_max_s_is_one_encounter_and_a_second_longer_ends_it() -> None:
    exactly = meeting()
    back(exactly, DARK_TS + T.encounter_dark_max_s, SEA)
    found = feed(exactly)
    assert [(f.active, f.impact) for f in found] == [(True, Impact.HIGH), (True, Impact.VERY_HIGH)]
    assert found[1].facts["dark_s"] == T.encounter_dark_max_s == 12 * H
    assert "went dark together for 12.0 h" in found[1].detail

    longer = meeting()
    back(longer, DARK_TS + T.encounter_dark_max_s + 1, SEA)
    found = feed(longer)
    assert [(f.kind, f.active, f.group) for f in found] == [ENCOUNTER, ENDED]
    assert found[1].detail == "a and b went dark together and stayed dark over 12.0 h"

    cells: dict[str, Any] = {}  # nobody comes back; a stranger's fix in the cell moves its clock on
    feed(meeting(), cells)
    stranger = {"c": [(DARK_TS + T.encounter_dark_max_s + 1, *offset(*SEA, 0, -1500), 0.5)]}
    assert [(f.active, f.detail) for f in feed(stranger, cells)] == [
        (False, "a and b went dark together and stayed dark over 12.0 h")
    ]


def test_a_pair_that_was_never_an_encounter_and_goes_silent_simply_expires() -> None:
    cells: dict[str, Any] = {}
    assert feed(meeting(minutes=6), cells) == []  # 5 min together: no encounter yet
    tracks: dict[str, Track] = {"a": [], "b": []}
    back(tracks, DARK_TS + 3 * H, SEA)
    assert feed(tracks, cells) == []
    (state,) = cells.values()
    assert state["pairs"] == {"a|b": [DARK_TS + 3 * H + 1] * 2 + [[0.3], [0.4], 0]}  # a new pair, watching


def test_a_dark_pair_back_together_in_the_neighbouring_cell_is_judged_by_the_cell_that_holds_it() -> None:
    south = (35.993, -3.525)  # cell 719:-71; a's fixes reach no other cell, b's (400 m north) also 720:-71
    north = (36.0005, -3.525)  # cell 720:-71, 56 m past the boundary; b 300 m further north: both reach 719
    assert cell_id(*south) != cell_id(*north)
    tracks = meeting(where=south)
    back(tracks, DARK_TS + 3 * H, north, apart_m=300)
    tracks["a"] += [(DARK_TS + 3 * H + m * 60, *north, 0.3) for m in range(1, 6)]
    tracks["b"].append((DARK_TS + 3 * H + 301, *offset(*north, 300, 2000), 9.0))  # b leaves after 5 min
    cells: dict[str, Any] = {}
    found = feed(tracks, cells)
    # 719:-71 holds the dark record, so it judges the return although a is home in 720:-71 now, and
    # keeps judging the pair to its end; 720:-71 has only watched them for 5 min, so it says nothing.
    assert [(f.group_id, f.active, f.impact) for f in found] == [
        ("encounter:a|b", True, Impact.HIGH),
        ("encounter:a|b", True, Impact.VERY_HIGH),
        ("encounter:a|b", False, Impact.HIGH),
    ]
    assert found[1].facts["dark_s"] == 3 * H
    assert all(state["pairs"] == {} for state in cells.values())  # no cell holds a record of the pair


def test_the_home_cell_of_the_return_cannot_know_of_the_dark_so_it_only_adds_to_the_same_group() -> None:
    south, north = (35.993, -3.525), (36.0005, -3.525)
    tracks = meeting(where=south)
    back(tracks, DARK_TS + 3 * H, north, apart_m=300)
    tracks["a"] += [(DARK_TS + 3 * H + m * 60, *north, 0.3) for m in range(1, 13)]
    tracks["b"] += [(DARK_TS + 3 * H + m * 60 + 1, *offset(*north, 300), 0.4) for m in range(1, 12)]
    tracks["b"].append((DARK_TS + 3 * H + 721, *offset(*north, 300, 1000), 9.0))  # b leaves (1 km in 1 min)
    found = feed(tracks)
    # 720:-71 (a's home now) starts its own record and, after encounter_min_s, reports an encounter:
    # for the same group, still open, so an update at a lower impact, not a second alert. Both cells
    # see b leave; the first end resolves the group and grouping ignores the second.
    assert [(f.group_id, f.active, f.impact) for f in found] == [
        ("encounter:a|b", True, Impact.HIGH),
        ("encounter:a|b", True, Impact.VERY_HIGH),
        ("encounter:a|b", True, Impact.HIGH),
        ("encounter:a|b", False, Impact.HIGH),
        ("encounter:a|b", False, Impact.HIGH),
    ]


def test_reports_that_arrive_after_the_clock_passed_them_do_not_make_a_dark_meeting() -> None:
    cells: dict[str, Any] = {}
    assert run_with(cells, meeting()) == [ENCOUNTER]
    clock = DARK_TS + 2 * T.encounter_max_dt_s  # the partition's clock (wall time, live) runs on
    assert feed({"c": [(clock, *offset(*SEA, 0, -1500), 0.5)]}, cells) == []
    (cell,) = cells
    assert cells[cell]["pairs"]["a|b"][4] == DARK  # in the cell's view both went silent
    # Their next reports come late, in one batch, a minute after the last ones: no gap at all.
    late = [
        CellFix("a", T0 + 660, *SEA, 0.5, "A:a:late", "ES-ALBORAN", "WM", home=True),
        CellFix("b", T0 + 661, *offset(*SEA, 400), 0.5, "A:b:late", "ES-ALBORAN", "WM", home=True),
    ]
    state = CellState.from_json(cells[cell])
    assert detect_encounters(cell, late, state, clock, T, PORTS) == []
    # The encounter went on to T0 + 661; the clock is past that too, so it is dark again from there.
    assert state.pairs["a|b"] == DarkPair(
        T0 + 1, T0 + 661, LastFix(T0 + 660, *SEA), LastFix(T0 + 661, *offset(*SEA, 400))
    )


def run_with(cells: dict[str, Any], tracks: dict[str, Track]) -> list[tuple[AlertKind, bool, str]]:
    return [(f.kind, f.active, f.group) for f in feed(tracks, cells)]


def test_a_dark_pair_round_trips_through_json_and_a_broken_record_is_refused() -> None:
    cells: dict[str, Any] = {}
    feed(meeting(), cells)
    feed({"c": [(DARK_TS + H, *offset(*SEA, 0, -1500), 0.5)]}, cells)  # the cell's clock passes: a|b is dark
    (stored,) = cells.values()
    a_last, b_last = [T0 + 600, *SEA], [T0 + 601, *offset(*SEA, 400)]
    assert stored["pairs"] == {"a|b": [T0 + 1, DARK_TS, a_last, b_last, DARK, None]}
    state = CellState.from_json(stored)
    assert json.loads(json.dumps(state.to_json())) == stored
    assert CellState.from_json(json.loads(json.dumps(state.to_json()))) == state

    back_once = dict(stored, pairs={"a|b": [T0 + 1, DARK_TS, a_last, b_last, DARK, DARK_TS + H]})
    assert is_cell_state(back_once)
    vessel = [T0, 35.9, -3.5, None, True]
    broken_pairs: list[Any] = [
        [T0 + 1, DARK_TS, a_last, b_last, DARK],  # dark without its return time
        [T0 + 1, DARK_TS, a_last[:2], b_last, DARK, None],  # a fix without its longitude
        [T0 + 1, DARK_TS, a_last, b_last, DARK, "soon"],
        [T0 + 1, DARK_TS, a_last, b_last, 4, None],
        [T0 + 1, DARK_TS, [0.5], [1.0], DARK],  # a close pair marked dark
        [T0 + 1, DARK_TS, a_last, b_last, True, None],
        [T0, T0, ["0.5"], [], 0],
        [T0, T0, [0.5] * 33, [], 0],  # more speeds than are ever kept
        [T0, T0, [], [], 1.0],
        "abcde",
    ]
    for pair in broken_pairs:
        assert not is_cell_state({"vessels": {}, "pairs": {"a|b": pair}}), pair
    for key in ("b|a", "ab", "a|b|c", "|a"):
        assert not is_cell_state({"vessels": {}, "pairs": {key: [T0, T0, [], [], 0]}}), key
    for broken in ([T0, 35.9, -3.5, None], [T0, 35.9, -3.5, None, 1], [T0, "35.9", -3.5, 0.5, True]):
        assert not is_cell_state({"vessels": {"a": broken}, "pairs": {}}), broken
    assert not is_cell_state({"vessels": [], "pairs": {}})
    assert is_cell_state({"vessels": {"a": vessel}, "pairs": {"a|b": [T0, T0, [0.5], [], 1]}})


@pytest.mark.parametrize("late_s", [0, 50])
def test_a_late_fix_without_speed_from_before_the_dark_does_not_end_the_dark_meeting(late_s: int) -> None:
    # A report without speed keeps an earlier fix as the reference for its speed; the vessel's
    # latest fix must stay its latest, or a replayed or late fix from before the dark reads as a return.
    cells: dict[str, Any] = {}
    end = T0 + 900
    a = [(T0 + s, *SEA, math.nan) for s in range(0, 901, 10)]
    b = [(T0 + s + 1, *offset(*SEA, 300), math.nan) for s in range(0, 901, 10)]
    out = feed({"a": a, "b": b}, cells)
    out += feed({"c": [(end + 700, *offset(*SEA, -1500), 0.5)]}, cells)  # the clock moves: they are dark
    out += feed({"a": [(end - late_s, *SEA, math.nan)]}, cells)
    back = end + 3600
    out += feed({"a": [(back, *SEA, math.nan)], "b": [(back + 1, *offset(*SEA, 300), math.nan)]}, cells)
    assert [(f.active, f.detail.split(":")[0]) for f in distinct(out)] == [
        (True, "a and b within meeting distance for 10 min, slow"),
        (True, "a and b went dark together for 1.0 h and reappeared together"),
    ]
