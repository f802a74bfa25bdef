"""Detect stage: encounters (two vessels close together and slow for a while), per grid cell.

Vessel state is keyed by vessel, but a meeting involves two vessels on any
partitions, so encounters have their own stream keyed by grid cell. A fix is
sent to its own cell and to each neighbouring cell within the meeting distance,
so every close pair shares a cell; the pair is judged only in the cell that is
home to its first vessel (by id), so it is judged once.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from geo.distance import EARTH_RADIUS_M, distance_m, knots
from geo.ports import Ports
from schemas.alerts import AlertKind, Impact
from streams.detect.findings import Finding
from streams.detect.thresholds import Thresholds

CELL_DEG = 0.05
MAX_SPEEDS = 32


def cell_id(lat_deg: float, lon_deg: float) -> str:
    """The grid cell of a position."""
    return f"{math.floor(lat_deg / CELL_DEG)}:{math.floor(lon_deg / CELL_DEG)}"


def cells_of(lat_deg: float, lon_deg: float, reach_m: float) -> list[str]:
    """Home cell first, then every neighbouring cell that lies within `reach_m`."""
    row, col = math.floor(lat_deg / CELL_DEG), math.floor(lon_deg / CELL_DEG)
    reach_lat = math.degrees(reach_m / EARTH_RADIUS_M)
    reach_lon = reach_lat / max(math.cos(math.radians(lat_deg)), 0.01)
    rows = {math.floor((lat_deg + d) / CELL_DEG) for d in (-reach_lat, 0.0, reach_lat)}
    cols = {math.floor((lon_deg + d) / CELL_DEG) for d in (-reach_lon, 0.0, reach_lon)}
    return [f"{row}:{col}"] + [f"{r}:{c}" for r in sorted(rows) for c in sorted(cols) if (r, c) != (row, col)]


@dataclass
class CellState:
    """The latest fix of each vessel seen in a cell, and the pairs that are close."""

    vessels: dict[str, list[Any]] = field(default_factory=dict)  # vessel -> [ts, lat, lon, speed_kn, home]
    pairs: dict[str, list[Any]] = field(default_factory=dict)  # "a|b" -> see _judge

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data for the table's changelog (an unknown speed is null, not NaN)."""
        vessels = {v: [*f[:3], None if math.isnan(f[3]) else f[3], f[4]] for v, f in self.vessels.items()}
        return {"vessels": vessels, "pairs": self.pairs}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CellState:
        """Back from `to_json`."""
        vessels = {v: [*f[:3], math.nan if f[3] is None else f[3], f[4]] for v, f in data["vessels"].items()}
        return cls(vessels, {p: list(r) for p, r in data["pairs"].items()})


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
    """Update the cell with its fixes, oldest first; report meetings that start or end."""
    findings: list[Finding] = []
    for fix in sorted(fixes, key=lambda f: f.ts):
        previous = state.vessels.get(fix.vessel)
        if previous is not None and fix.ts <= previous[0]:
            continue
        speed = fix.sog
        if math.isnan(speed) and previous is not None:
            speed = knots(distance_m(previous[1], previous[2], fix.lat, fix.lon), fix.ts - previous[0])
        state.vessels[fix.vessel] = [fix.ts, fix.lat, fix.lon, speed, fix.home]
        for other, (ts, lat, lon, other_speed, other_home) in list(state.vessels.items()):
            if other == fix.vessel or abs(fix.ts - ts) > t.encounter_max_dt_s:
                continue
            first_home = fix.home if fix.vessel < other else other_home
            if not first_home:
                continue
            first, second = sorted((fix.vessel, other))
            speeds = (speed, other_speed) if first == fix.vessel else (other_speed, speed)
            close = distance_m(fix.lat, fix.lon, lat, lon) <= t.encounter_distance_m
            findings.extend(_judge(f"{first}|{second}", close, fix, speeds, state, t, ports))
    findings.extend(_expire(state, clock_ts, t))
    return findings


def _judge(
    pair: str,
    close: bool,
    fix: CellFix,
    speeds: tuple[float, float],
    state: CellState,
    t: Thresholds,
    ports: Ports,
) -> list[Finding]:
    """A pair record is [start_ts, last_ts, speeds of the first vessel, of the second, alerted]."""
    record = state.pairs.get(pair)
    if not close:
        if record is None:
            return []
        del state.pairs[pair]
        return [_finding(pair, fix, record, active=False)] if record[4] else []
    if record is None:
        record = state.pairs[pair] = [fix.ts, fix.ts, [], [], 0]
    record[1] = max(record[1], fix.ts)
    for column, speed in ((2, speeds[0]), (3, speeds[1])):
        if not math.isnan(speed):
            record[column] = [*record[column], speed][-MAX_SPEEDS:]
    # Both vessels slow (each one's median speed), as in GFW's encounter definition.
    slow = all(r and statistics.median(r) < t.encounter_max_kn for r in (record[2], record[3]))
    if (
        not record[4]
        and record[1] - record[0] >= t.encounter_min_s
        and slow
        and not ports.near_one(fix.lon, fix.lat, t.port_radius_m)
    ):
        record[4] = 1
        return [_finding(pair, fix, record, active=True)]
    return []


def _expire(state: CellState, clock_ts: float, t: Thresholds) -> list[Finding]:
    """Forget vessels and pairs not seen for the comparison time; a meeting left open ends."""
    horizon = clock_ts - t.encounter_max_dt_s
    state.vessels = {v: f for v, f in state.vessels.items() if f[0] >= horizon}
    ended = [(p, r) for p, r in state.pairs.items() if r[1] < horizon]
    findings = []
    for pair, record in ended:
        del state.pairs[pair]
        if record[4]:
            findings.append(
                Finding(
                    AlertKind.ENCOUNTER, pair, ts=record[1], active=False, vessel_ids=tuple(pair.split("|")),
                    detail=f"{pair.replace('|', ' and ')} no longer seen together",
                )
            )  # fmt: skip
    return findings


def _finding(pair: str, fix: CellFix, record: list[Any], active: bool) -> Finding:
    minutes = (record[1] - record[0]) / 60
    a, b = pair.split("|")
    detail = (
        f"{a} and {b} within meeting distance for {minutes:.0f} min, slow: possible transfer"
        if active
        else f"{a} and {b} separated after {minutes:.0f} min"
    )
    return Finding(
        AlertKind.ENCOUNTER, pair, ts=fix.ts, active=active, impact=Impact.HIGH, confidence=0.75,
        zone_id=fix.zone_id, route=fix.route, start_ts=record[0], event_ids=(fix.event_id,),
        vessel_ids=(a, b), lat=fix.lat, lon=fix.lon, detail=detail,
        facts={"duration_s": record[1] - record[0]},
    )  # fmt: skip
