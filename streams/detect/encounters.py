"""Detect stage: encounters (two vessels close together and slow for a while), per grid cell.

Vessel state is keyed by vessel, but a meeting involves two vessels on any
partitions, so encounters have their own stream keyed by grid cell. A fix is
sent to its own cell and to each neighbouring cell within the meeting distance,
so every close pair shares a cell; a pair is opened only in a cell that is home
to its first vessel (by id): its own cell, or one within position noise of it.
Cells within noise of a pair get the same fixes, so they open it at the same fix
and say the same things of it (grouping makes one alert of them), however the
noise carries the pair across the edge. Fixes under way count only for vessels
a cell has seen slow: they show a pair's vessels leaving.

An encounter whose two vessels go silent together (in the view of its cell:
neither has a newer fix there) does not end: it goes dark. If both come back
together, close, within `encounter_dark_max_s`, it is the same encounter, now a
dark meeting (Global Fishing Watch merges such encounters). Only the cell that
holds the dark record knows, so that cell judges the pair's return on every fix
that reaches it, home or not; if they come back in a neighbouring cell, it
keeps the pair (adopted) until the encounter ends.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from geo.distance import EARTH_RADIUS_M, distance_m, knots
from geo.ports import Ports
from schemas.alerts import AlertKind, Impact
from streams.detect.findings import Finding
from streams.detect.thresholds import Thresholds

CELL_DEG = 0.05
MAX_SPEEDS = 32
# A pair record's flag: close but no encounter yet, an encounter, an encounter this cell judges on
# every fix (it came back from a dark here while its home is another cell), a dark encounter.
WATCHING, ALERTED, ADOPTED, DARK = 0, 1, 2, 3


def cell_id(lat_deg: float, lon_deg: float) -> str:
    """The grid cell of a position."""
    return f"{math.floor(lat_deg / CELL_DEG)}:{math.floor(lon_deg / CELL_DEG)}"


def cells_of(lat_deg: float, lon_deg: float, reach_m: float) -> list[str]:
    """Home cell first, then every neighbouring cell that lies within `reach_m`."""
    row, col = math.floor(lat_deg / CELL_DEG), math.floor(lon_deg / CELL_DEG)
    reach_lat = math.degrees(reach_m / EARTH_RADIUS_M)
    reach_lon = reach_lat / max(math.cos(math.radians(lat_deg)), 0.01)
    # Every fix of the cells stream comes here: the reach is under a cell, so the rows and columns it
    # spans are contiguous, and most fixes lie in one cell only.
    floor, step = math.floor, CELL_DEG
    rows = range(floor((lat_deg - reach_lat) / step), floor((lat_deg + reach_lat) / step) + 1)
    cols = range(floor((lon_deg - reach_lon) / step), floor((lon_deg + reach_lon) / step) + 1)
    home = f"{row}:{col}"
    if len(rows) == 1 and len(cols) == 1:
        return [home]
    return [home] + [f"{r}:{c}" for r in rows for c in cols if (r, c) != (row, col)]


class CellVessel(NamedTuple):
    """A vessel's latest fix in a cell; in the changelog `[ts, lat, lon, speed_kn, home]`, then
    `ref_ts, ref_lat, ref_lon` when the fix its next speed is implied from is an earlier one."""

    ts: float
    lat: float
    lon: float
    speed_kn: float  # NaN when unknown (null in the changelog)
    home: bool  # the cell is the fix's own cell, not a neighbour within meeting distance
    ref_ts: float = math.nan  # NaN: this fix is the reference
    ref_lat: float = math.nan
    ref_lon: float = math.nan

    def reference(self) -> tuple[float, float, float]:
        """(ts, lat, lon) of the fix the vessel's next implied speed is measured from."""
        if math.isnan(self.ref_ts):
            return self.ts, self.lat, self.lon
        return self.ref_ts, self.ref_lat, self.ref_lon


class LastFix(NamedTuple):
    """Where a vessel of a dark pair was last seen; in the changelog `[ts, lat, lon]`."""

    ts: float
    lat: float
    lon: float


@dataclass(slots=True)
class ClosePair:
    """Two vessels close together; in the changelog `[start_ts, last_ts, speeds_a, speeds_b, flag]`."""

    start_ts: float
    last_ts: float  # when they were last seen together
    speeds_a: list[float]  # the last MAX_SPEEDS known speeds of the first vessel (by id)
    speeds_b: list[float]
    flag: int = WATCHING  # WATCHING, ALERTED or ADOPTED

    def to_json(self) -> list[Any]:
        """The changelog's list."""
        return [self.start_ts, self.last_ts, self.speeds_a, self.speeds_b, self.flag]


@dataclass(slots=True)
class DarkPair:
    """An encounter whose two vessels went silent together.

    In the changelog `[start_ts, dark_ts, last_a, last_b, DARK, back_ts]`: dark_ts
    is when the pair was last seen together, back_ts the first fix of either
    vessel after the dark (or None).
    """

    start_ts: float
    dark_ts: float
    last_a: LastFix
    last_b: LastFix
    back_ts: float | None = None
    flag: ClassVar[int] = DARK

    def to_json(self) -> list[Any]:
        """The changelog's list."""
        return [self.start_ts, self.dark_ts, list(self.last_a), list(self.last_b), DARK, self.back_ts]


Pair = ClosePair | DarkPair


@dataclass
class CellState:
    """The latest fix of each vessel seen in a cell, and the pairs ("a|b", a < b) that are close or dark."""

    vessels: dict[str, CellVessel] = field(default_factory=dict)
    pairs: dict[str, Pair] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data for the table's changelog (an unknown speed is null, not NaN)."""
        vessels = {v: _vessel_json(f) for v, f in self.vessels.items()}
        return {"vessels": vessels, "pairs": {p: r.to_json() for p, r in self.pairs.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CellState:
        """Back from `to_json`; ValueError for any other shape (a changelog record is input too)."""
        vessels, pairs = data["vessels"], data["pairs"]
        _require(isinstance(vessels, dict) and isinstance(pairs, dict), "cell state", data)
        return cls({v: _vessel(f) for v, f in vessels.items()}, {p: _pair(p, r) for p, r in pairs.items()})

    @staticmethod
    def last_seen_of(data: Mapping[str, Any]) -> float:
        """When anything in a stored cell was last seen (a vessel's fix, a pair together, or back from
        the dark), read without decoding the state: the sweep reads every cell. A dark pair outlives its
        vessels' fixes in the cell, so its times count too.

        Times are the first number of a vessel, the second of a pair (when last
        together, or dark), and the sixth of a dark pair (back, or null).
        """
        seen = [v[0] for v in data["vessels"].values()]
        for record in data["pairs"].values():
            seen.append(record[1])
            if len(record) == 6 and record[5] is not None:
                seen.append(record[5])
        return max(seen, default=-math.inf)


@dataclass(frozen=True)
class CellFix:
    """One vessel fix as the encounter detector sees it."""

    vessel: str
    ts: float
    lat: float
    lon: float
    sog: float
    event_id: str
    zone_id: str
    route: str
    home: bool


def detect_encounters(
    cell: str, fixes: list[CellFix], state: CellState, clock_ts: float, t: Thresholds, ports: Ports
) -> list[Finding]:
    """Update the cell with its fixes, oldest first; report meetings that start, end or resume."""
    findings: list[Finding] = []
    dark = _dark(state)
    for fix in sorted(fixes, key=lambda f: f.ts):
        previous = state.vessels.get(fix.vessel)
        underway = fix.sog >= t.encounter_max_kn  # False when unknown (NaN)
        if previous is None and underway:
            continue  # a vessel passing through: it counts only where it was seen slow
        if previous is not None and fix.ts <= previous.ts:
            continue
        if previous is not None and fix.ts - previous.ts > t.encounter_max_dt_s:
            # Back after a silence: its pairs are settled (ended, or dark) before this fix counts.
            findings.extend(_settle(state, fix.ts, t))
            dark = _dark(state)
        judged = _speed(fix, previous, t)
        if judged is None:
            continue  # a jittered fix (implausible_speed reports it): it moves no pair apart
        speed, reference = judged
        # Home here, for opening pairs, also within position noise of the cell: a moored pair on an
        # edge or a corner opens in every cell its noise carries it to, at the same fix, with the same
        # start (each of those cells gets every fix of both), and not later in each as the noise
        # takes it there, which gave one meeting several starts and so several alert ids.
        home = fix.home or cell in cells_of(fix.lat, fix.lon, t.speed_min_distance_m)
        state.vessels[fix.vessel] = CellVessel(fix.ts, fix.lat, fix.lon, speed, home, *reference)
        mine = [p for p in dark if fix.vessel in p.split("|")]
        if mine:
            for pair in mine:
                record = state.pairs.get(pair)
                if isinstance(record, DarkPair):
                    findings.extend(_back(pair, record, fix, state, t))
            dark = _dark(state)
        for other, seen in list(state.vessels.items()):
            if other == fix.vessel or abs(fix.ts - seen.ts) > t.encounter_max_dt_s:
                continue
            first_home = home if fix.vessel < other else seen.home
            if not (first_home or state.pairs):
                continue
            first, second = sorted((fix.vessel, other))
            pair = f"{first}|{second}"
            record = state.pairs.get(pair)
            # A pair is opened in the home cell of its first vessel, and judged wherever a record of it
            # is kept: a moored vessel's fixes jitter across a cell edge, and its pair stays one pair.
            if isinstance(record, DarkPair) or not (first_home or record) or (underway and not record):
                continue
            speeds = (speed, seen.speed_kn) if first == fix.vessel else (seen.speed_kn, speed)
            close = distance_m(fix.lat, fix.lon, seen.lat, seen.lon) <= t.encounter_distance_m
            findings.extend(_judge(pair, record, close, fix, speeds, state, t, ports))
    findings.extend(_expire(state, clock_ts, t))
    return findings


def _speed(
    fix: CellFix, previous: CellVessel | None, t: Thresholds
) -> tuple[float, tuple[float, float, float]] | None:
    """The fix's speed, and the fix the vessel's next implied speed starts from (NaNs: this one);
    None for a jittered fix (an implausible jump from the vessel's last fix)."""
    this = (math.nan, math.nan, math.nan)
    if previous is None:
        return fix.sog, this
    moved_m = distance_m(previous.lat, previous.lon, fix.lat, fix.lon)
    if moved_m > t.speed_min_distance_m and knots(moved_m, fix.ts - previous.ts) > t.max_speed_kn:
        return None
    if not math.isnan(fix.sog):
        return fix.sog, this
    ref_ts, ref_lat, ref_lon = previous.reference()
    from_ref_m = distance_m(ref_lat, ref_lon, fix.lat, fix.lon)
    if _within_noise(from_ref_m, fix.ts - ref_ts, t):
        # No speed, and 10 m in 3 s is noise, not 6 kn: the last speed stands, measured from the reference.
        return previous.speed_kn, (ref_ts, ref_lat, ref_lon)
    return knots(from_ref_m, fix.ts - ref_ts), this


def _within_noise(moved_m: float, elapsed_s: float, t: Thresholds) -> bool:
    """A move within position noise (`speed_min_distance_m`) over less time than that noise needs
    to read as slower than `encounter_max_kn`: it says nothing about the speed."""
    noise_kn = knots(t.speed_min_distance_m, elapsed_s)
    return moved_m <= t.speed_min_distance_m and noise_kn >= t.encounter_max_kn


def _dark(state: CellState) -> list[str]:
    """The dark pairs (rare: most cells have none)."""
    return [p for p, r in state.pairs.items() if r.flag == DARK]


def _judge(
    pair: str,
    record: ClosePair | None,
    close: bool,
    fix: CellFix,
    speeds: tuple[float, float],
    state: CellState,
    t: Thresholds,
    ports: Ports,
) -> list[Finding]:
    """A close pair: it starts when close, slow and away from ports long enough; it ends when apart."""
    if not close:
        if record is None:
            return []
        del state.pairs[pair]
        return [_finding(pair, fix, record, active=False)] if record.flag else []
    if record is None:
        record = state.pairs[pair] = ClosePair(fix.ts, fix.ts, [], [])
    record.last_ts = max(record.last_ts, fix.ts)
    speed_a, speed_b = speeds
    if not math.isnan(speed_a):
        record.speeds_a = [*record.speeds_a, speed_a][-MAX_SPEEDS:]
    if not math.isnan(speed_b):
        record.speeds_b = [*record.speeds_b, speed_b][-MAX_SPEEDS:]
    # Both vessels slow (each one's median speed), as in GFW's encounter definition.
    slow = all(r and statistics.median(r) < t.encounter_max_kn for r in (record.speeds_a, record.speeds_b))
    if record.flag and any(
        r and statistics.median(r) >= t.encounter_max_kn for r in (record.speeds_a, record.speeds_b)
    ):
        del state.pairs[pair]  # under way, together or not: the meeting is over
        return [_finding(pair, fix, record, active=False, why="moved on")]
    if (
        not record.flag
        and record.last_ts - record.start_ts >= t.encounter_min_s
        and slow
        and not ports.near_one(fix.lon, fix.lat, t.port_radius_m)
    ):
        record.flag = ALERTED
        return [_finding(pair, fix, record, active=True)]
    return []


def _back(pair: str, record: DarkPair, fix: CellFix, state: CellState, t: Thresholds) -> list[Finding]:
    """A fix of a dark pair's vessel: the first one back waits for the other; both back and close resume."""
    start_ts, dark_ts, back_ts = record.start_ts, record.dark_ts, record.back_ts
    a, b = pair.split("|")
    if fix.vessel == a:
        mine, theirs, other = record.last_a, record.last_b, b
    else:
        mine, theirs, other = record.last_b, record.last_a, a
    if fix.ts <= mine.ts:
        return []  # a report from before the dark, arriving late
    if back_ts is None:
        gap = fix.ts - dark_ts
        if gap <= t.encounter_max_dt_s:  # no real gap (its reports came late): the encounter goes on
            state.pairs[pair] = ClosePair(start_ts, dark_ts, [], [], ALERTED)
        elif gap > t.encounter_dark_max_s:
            del state.pairs[pair]
            return [_ended(pair, dark_ts, _stayed_dark(t))]
        else:
            record.back_ts = fix.ts
        return []
    latest = state.vessels.get(other)
    if latest is None or latest.ts <= theirs.ts:
        return []  # still only one of them back
    together = (
        fix.ts - back_ts <= t.encounter_max_dt_s
        and abs(fix.ts - latest.ts) <= t.encounter_max_dt_s
        and distance_m(fix.lat, fix.lon, latest.lat, latest.lon) <= t.encounter_distance_m
    )
    if not together:
        if fix.ts - back_ts <= t.encounter_max_dt_s:
            return []  # both back, not yet side by side: the first fix back may be a jump (AIS jitter)
        del state.pairs[pair]
        return [_ended(pair, dark_ts, "went dark together and did not reappear together")]
    first_home = state.vessels[a].home  # a is the first vessel: fix or latest, as stored above
    state.pairs[pair] = ClosePair(start_ts, fix.ts, [], [], ALERTED if first_home else ADOPTED)
    return [_dark_meeting(pair, fix, start_ts, back_ts - dark_ts)]


def _settle(state: CellState, now_ts: float, t: Thresholds) -> list[Finding]:
    """Pairs not seen together for the comparison time end, or go dark; dark pairs past their time end."""
    horizon = now_ts - t.encounter_max_dt_s
    findings = []
    for pair, record in list(state.pairs.items()):
        if isinstance(record, ClosePair) and record.last_ts < horizon:
            after = _unseen(pair, record, state.vessels, now_ts, t) if record.flag else None
            if isinstance(after, str):
                del state.pairs[pair]
                findings.append(_ended(pair, record.last_ts, after))
            elif after is None:
                del state.pairs[pair]
            elif after is not record:
                state.pairs[pair] = after
    for pair, record in list(state.pairs.items()):
        if not isinstance(record, DarkPair):
            continue
        dark_ts, back_ts = record.dark_ts, record.back_ts
        if back_ts is None and now_ts - dark_ts > t.encounter_dark_max_s:
            why = _stayed_dark(t)
        elif back_ts is not None and back_ts < horizon:
            why = "went dark together and did not reappear together"
        else:
            continue
        del state.pairs[pair]
        findings.append(_ended(pair, dark_ts, why))
    return findings


def _unseen(
    pair: str, record: ClosePair, vessels: Mapping[str, CellVessel], now_ts: float, t: Thresholds
) -> Pair | str | None:
    """An encounter not seen together for the comparison time: why it ended, or what it is now.

    Both silent where they were last together: dark. One silent, the other still
    where the silent one was last seen: the same pair, waiting (a receiver misses
    a vessel for half an hour often enough), for up to `encounter_dark_max_s`.
    Both last seen in a neighbouring cell: that cell has the pair (None, and no
    word of it here). Otherwise they are apart.
    """
    a, b = pair.split("|")
    fix_a, fix_b = vessels.get(a), vessels.get(b)
    if fix_a is None or fix_b is None:
        return "no longer seen together"
    if not (fix_a.home or fix_b.home):
        return None  # last seen in a neighbouring cell, which keeps them: they drifted out of this one
    if distance_m(fix_a.lat, fix_a.lon, fix_b.lat, fix_b.lon) > t.encounter_distance_m:
        return "no longer seen together"
    horizon = now_ts - t.encounter_max_dt_s
    if fix_a.ts < horizon and fix_b.ts < horizon:
        last_a, last_b = LastFix(fix_a.ts, fix_a.lat, fix_a.lon), LastFix(fix_b.ts, fix_b.lat, fix_b.lon)
        return DarkPair(record.start_ts, record.last_ts, last_a, last_b)
    if now_ts - record.last_ts > t.encounter_dark_max_s:
        silent = a if fix_a.ts < horizon else b
        return f"no longer seen together: {silent} silent over {_hours(t.encounter_dark_max_s)}"
    return record


def _expire(state: CellState, clock_ts: float, t: Thresholds) -> list[Finding]:
    """Forget vessels and pairs not seen for the comparison time; a meeting left open ends or goes dark."""
    findings = _settle(state, clock_ts, t)
    horizon = clock_ts - t.encounter_max_dt_s
    # An encounter's vessels stay until it is settled: their last fixes make its dark record.
    keep = {v for p, r in state.pairs.items() if r.flag in (ALERTED, ADOPTED) for v in p.split("|")}
    state.vessels = {v: f for v, f in state.vessels.items() if f.ts >= horizon or v in keep}
    return findings


def _finding(pair: str, fix: CellFix, record: ClosePair, active: bool, why: str = "separated") -> Finding:
    minutes = (record.last_ts - record.start_ts) / 60
    a, b = pair.split("|")
    detail = (
        f"{a} and {b} within meeting distance for {minutes:.0f} min, slow: possible transfer"
        if active
        else f"{a} and {b} {why} after {minutes:.0f} min"
    )
    return Finding(
        AlertKind.ENCOUNTER, pair, ts=fix.ts, active=active, impact=Impact.HIGH, confidence=0.75,
        zone_id=fix.zone_id, route=fix.route, start_ts=record.start_ts, event_ids=(fix.event_id,),
        vessel_ids=(a, b), lat=fix.lat, lon=fix.lon, detail=detail,
        facts={"duration_s": record.last_ts - record.start_ts},
    )  # fmt: skip


def _dark_meeting(pair: str, fix: CellFix, start_ts: float, dark_s: float) -> Finding:
    a, b = pair.split("|")
    return Finding(
        AlertKind.ENCOUNTER, pair, ts=fix.ts, active=True, impact=Impact.VERY_HIGH, confidence=0.75,
        zone_id=fix.zone_id, route=fix.route, start_ts=start_ts, event_ids=(fix.event_id,),
        vessel_ids=(a, b), lat=fix.lat, lon=fix.lon,
        detail=f"{a} and {b} went dark together for {_hours(dark_s)} and reappeared together: dark meeting",
        facts={"duration_s": fix.ts - start_ts, "dark_s": dark_s},
    )  # fmt: skip


def _ended(pair: str, ts: float, why: str) -> Finding:
    a, b = pair.split("|")
    return Finding(
        AlertKind.ENCOUNTER, pair, ts=ts, active=False, vessel_ids=(a, b), detail=f"{a} and {b} {why}"
    )


def _stayed_dark(t: Thresholds) -> str:
    return f"went dark together and stayed dark over {_hours(t.encounter_dark_max_s)}"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def _require(ok: bool, what: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"not a {what}: {value!r:.120}")


def _number(x: Any) -> bool:
    return type(x) in (int, float) and math.isfinite(x)


def _vessel(f: Any) -> CellVessel:
    _require(
        isinstance(f, list) and len(f) in (5, 8) and all(map(_number, f[:3]))
        and (f[3] is None or _number(f[3])) and type(f[4]) is bool and all(map(_number, f[5:])),
        "cell vessel", f,
    )  # fmt: skip
    reference = f[5:] or (math.nan, math.nan, math.nan)
    return CellVessel(f[0], f[1], f[2], math.nan if f[3] is None else f[3], f[4], *reference)


def _vessel_json(f: CellVessel) -> list[Any]:
    plain = [f.ts, f.lat, f.lon, None if math.isnan(f.speed_kn) else f.speed_kn, f.home]
    return plain if math.isnan(f.ref_ts) else [*plain, f.ref_ts, f.ref_lat, f.ref_lon]


def _pair(key: str, r: Any) -> Pair:
    names = key.split("|")
    ok = len(names) == 2 and "" < names[0] < names[1] and isinstance(r, list)
    if ok and len(r) == 5:  # close pair
        ok = (
            _number(r[0]) and _number(r[1]) and r[4] in (WATCHING, ALERTED, ADOPTED) and type(r[4]) is int
            and all(isinstance(s, list) and len(s) <= MAX_SPEEDS and all(map(_number, s)) for s in r[2:4])
        )  # fmt: skip
    elif ok and len(r) == 6:  # dark pair
        ok = (
            _number(r[0]) and _number(r[1]) and r[4] == DARK and type(r[4]) is int
            and (r[5] is None or _number(r[5]))
            and all(isinstance(f, list) and len(f) == 3 and all(map(_number, f)) for f in r[2:4])
        )  # fmt: skip
    else:
        ok = False
    _require(ok, f"cell pair {key!r}", r)
    if len(r) == 5:
        return ClosePair(r[0], r[1], r[2], r[3], r[4])
    return DarkPair(r[0], r[1], LastFix(*r[2]), LastFix(*r[3]), r[5])
