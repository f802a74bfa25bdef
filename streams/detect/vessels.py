"""Detect stage: per-vessel behaviour (AIS gap, implausible speed, loitering, geofences, watch list).

Pure: state in, state, findings and geofence transitions out. Transitions are
data; only a transition rule makes one a finding. The Faust agent keeps the states in a
table keyed by vessel identity, on the partition of the vessel's reports.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from geo.catalogue import Zones
from geo.distance import distance_m, knots
from geo.ports import Ports
from geo.transitions import crossed_zones
from schemas.alerts import AlertKind, Impact
from schemas.identity import is_unidentified
from schemas.transitions import Direction, Transition
from streams.detect.findings import Finding
from streams.detect.thresholds import Thresholds
from streams.detect.transition_rules import NO_RULES, TransitionRules
from streams.detect.watchlist import WatchList

GAP_OPEN = 1
LOITERING = 2
OTHER_ROUTE = "other"
_NUMBERS = struct.Struct("<5dB")
_LAST_SEEN = struct.Struct("<d")
_NO_REFERENCE = (math.nan, math.nan, math.nan)


class VesselState(NamedTuple):
    """What the detectors remember of a vessel: its last fix and any open condition.

    `ref_*`: the fix that loitering's next leg starts from, when it is not the last one. A fix
    within position noise of it, too soon for that noise to read slower than `loiter_max_kn`,
    leaves it in place: 20 m of GPS noise in 3 s reads as 13 kn.
    """

    last_ts: float
    lat: float
    lon: float
    loiter_start_ts: float
    loiter_dist_m: float
    flags: int
    crossing: str
    route: str
    ref_ts: float = math.nan  # NaN: the last fix is the reference
    ref_lat: float = math.nan
    ref_lon: float = math.nan

    def pack(self) -> bytes:
        """About 50 bytes (100 holding a reference): the table keeps states packed to stay under
        1 KB per vessel. Without a reference, the bytes of the release before it."""
        numbers = _NUMBERS.pack(
            self.last_ts, self.lat, self.lon, self.loiter_start_ts, self.loiter_dist_m, self.flags
        )
        text = f"{self.crossing}\x1f{self.route}"
        if not math.isnan(self.ref_ts):
            text += f"\x1f{self.ref_ts!r},{self.ref_lat!r},{self.ref_lon!r}"
        return numbers + text.encode()

    @classmethod
    def unpack(cls, raw: bytes) -> VesselState:
        """Back from `pack`."""
        last_ts, lat, lon, loiter_start_ts, loiter_dist_m, flags = _NUMBERS.unpack_from(raw)
        crossing, route, *reference = raw[_NUMBERS.size :].decode().split("\x1f")
        ref_ts, ref_lat, ref_lon = (float(v) for v in reference[0].split(",")) if reference else _NO_REFERENCE
        loiter = (loiter_start_ts, loiter_dist_m, flags)
        return cls(last_ts, lat, lon, *loiter, crossing, route, ref_ts, ref_lat, ref_lon)

    def loitering_ended(self) -> VesselState:
        """The state with no loitering stretch, open or under way."""
        return self._replace(
            loiter_start_ts=math.nan, loiter_dist_m=0.0, flags=self.flags & ~LOITERING,
            ref_ts=math.nan, ref_lat=math.nan, ref_lon=math.nan,
        )  # fmt: skip

    def reference(self) -> tuple[float, float, float]:
        """(ts, lat, lon) of the fix that loitering's next leg starts from."""
        if math.isnan(self.ref_ts):
            return self.last_ts, self.lat, self.lon
        return self.ref_ts, self.ref_lat, self.ref_lon

    @staticmethod
    def last_seen(raw: bytes) -> tuple[float, int]:
        """(last_ts, flags) of a packed state, without unpacking the rest."""
        return _LAST_SEEN.unpack_from(raw)[0], raw[_NUMBERS.size - 1]

    @property
    def in_zone_of_interest(self) -> bool:
        """In a crossing or on a route area of the catalogue."""
        return bool(self.crossing) or self.route not in ("", OTHER_ROUTE)


@dataclass(frozen=True)
class VesselContext:
    """What vessel detection needs besides the fixes: thresholds, zones, ports, watch list, rules."""

    thresholds: Thresholds
    crossings: Zones
    ports: Ports
    watch: WatchList
    rules: TransitionRules = NO_RULES


def track_vessels(
    fixes: Mapping[str, list[Any]], states: Mapping[str, VesselState], ctx: VesselContext
) -> tuple[dict[str, VesselState], list[Finding], list[Transition]]:
    """Run each vessel's fixes, oldest first, through the per-vessel detectors.

    A fix not newer than the vessel's last one (a replay, or out of order across
    batches) updates nothing: tracks need order, and the window detectors are
    the ones that place late reports.
    Returns the changed states, the findings (with a GEOFENCE_* finding for each
    transition a rule of `ctx.rules` asks for) and every geofence transition.
    """
    n = len(fixes["event_id"])
    if n == 0:
        return {}, [], []
    vessel = fixes["vessel"]
    # Oldest first overall is oldest first for each vessel (vessels are independent).
    order = sorted(range(n), key=fixes["ts"].__getitem__)
    changed: dict[str, VesselState] = {}
    findings: list[Finding] = []
    transitions: list[Transition] = []
    legs: list[tuple[int, VesselState]] = []
    for i in order:
        key = vessel[i]
        fix = _Fix(fixes, i)
        previous = changed.get(key) or states.get(key)
        reason = ctx.watch.match(fix.mmsi, fix.imo, fix.name, fix.callsign) if len(ctx.watch) else None
        if reason:
            findings.append(_watched(key, fix, reason))
        if is_unidentified(key):
            continue  # a report without a usable identity is no track: no state, gap or speed
        if previous is not None and fix.ts - previous.last_ts >= ctx.thresholds.vessel_forget_s:
            findings.extend(forget_silent(key, previous, ctx.thresholds, ctx.ports))  # as a look would have
            previous = None
        if previous is None:
            changed[key] = VesselState(fix.ts, fix.lat, fix.lon, math.nan, 0.0, 0, fix.crossing, fix.route)
            continue
        if fix.ts <= previous.last_ts:
            continue
        state, found = _step(key, previous, fix, ctx, transitions)
        changed[key] = state
        findings.extend(found)
        legs.append((i, previous))
    transitions.extend(_crossings(fixes, legs, ctx))
    findings.extend(ctx.rules.findings(transitions, ctx.watch))
    return changed, findings, transitions


def forget_vessel(key: str, state: VesselState, t: Thresholds) -> list[Finding]:
    """A vessel silent for `vessel_forget_s` leaves the table; its open conditions end with it.

    The gap's end is dated `vessel_forget_s` after its last fix, whether the
    silence is found by a look for the silent or by the vessel's next fix. A
    loitering still open (a state from before loitering ended with silence) ends
    where the vessel was last seen.
    """
    days = t.vessel_forget_s / 86400
    ends = [_went_dark_loitering(key, state)] if state.flags & LOITERING else []
    if state.flags & GAP_OPEN:
        ends.append(
            Finding(
                AlertKind.AIS_GAP, key, ts=state.last_ts + t.vessel_forget_s, active=False,
                impact=Impact.MEDIUM, confidence=0.7, zone_id=state.crossing, route=state.route,
                start_ts=state.last_ts, vessel_ids=(key,), lat=state.lat, lon=state.lon,
                detail=f"{key} silent over {days:g} days: no longer tracked",
                facts={"gap_s": t.vessel_forget_s},
            )
        )  # fmt: skip
    return ends


def end_silent_loitering(
    states: Iterable[tuple[str, VesselState]], clock_ts: float, t: Thresholds
) -> tuple[dict[str, VesselState], list[Finding]]:
    """Loitering vessels silent for `gap_s` and the reports' allowed lateness: their loitering ends
    where they were last seen.

    A silent vessel is no longer seen loitering (the gap, where one opens, is an
    alert of its own); its loitering alert would otherwise stay open, and be
    raised anew every `max_open_s`, for as long as it stays silent. Not before
    its late fixes may still come, which would start a second alert. A vessel
    back after `gap_s` ends it the same way (`_step`).
    """
    changed: dict[str, VesselState] = {}
    findings: list[Finding] = []
    silent_s = max(t.gap_s, t.allowed_lateness_s)
    for key, state in states:
        if state.flags & LOITERING and clock_ts - state.last_ts >= silent_s:
            findings.append(_went_dark_loitering(key, state))
            changed[key] = state.loitering_ended()
    return changed, findings


def find_gaps(
    states: Iterable[tuple[str, VesselState]], clock_ts: float, t: Thresholds, ports: Ports | None = None
) -> tuple[dict[str, VesselState], list[Finding]]:
    """Vessels silent for `gap_s` of event time while in a zone of interest: the gap opens.

    A vessel whose last position is in port is moored, not dark: AIS is often
    switched off alongside (Global Fishing Watch, too, leaves out gaps that
    begin in port).
    """
    changed: dict[str, VesselState] = {}
    findings: list[Finding] = []
    due = [
        (key, state)
        for key, state in states
        if not state.flags & GAP_OPEN and clock_ts - state.last_ts >= t.gap_s and state.in_zone_of_interest
    ]
    if ports is not None and due:
        moored = ports.near([s.lon for _, s in due], [s.lat for _, s in due], t.port_radius_m)
        due = [item for item, in_port in zip(due, moored) if not in_port]
    for key, state in due:
        changed[key] = state._replace(flags=state.flags | GAP_OPEN)
        findings.append(_gap_opened(key, state, t))
    return changed, findings


def forget_silent(key: str, state: VesselState, t: Thresholds, ports: Ports) -> list[Finding]:
    """A vessel silent for `vessel_forget_s`, as looks in time would have had it: the gap no look saw
    opens first (dated when the silence reached gap_s), then `forget_vessel` ends what is open."""
    unseen = _gap_no_look_saw(key, state, t, ports)
    if unseen:
        state = state._replace(flags=state.flags | GAP_OPEN)
    return unseen + forget_vessel(key, state, t)


def _gap_no_look_saw(key: str, state: VesselState, t: Thresholds, ports: Ports) -> list[Finding]:
    """The gap a look would have opened for a vessel now silent past gap_s (none if one did, or none
    would: out of the zones of interest, or moored): the look itself, for this one vessel."""
    return find_gaps([(key, state)], state.last_ts + t.gap_s, t, ports)[1]


def _gap_opened(key: str, state: VesselState, t: Thresholds) -> Finding:
    """The gap of a vessel silent since `state`, dated when the silence reached gap_s, not when it was
    looked for: a look every gap_check_s live, one at the end of a backfill batch and the vessel's
    return before any look find the same gap."""
    hours = t.gap_s / 3600
    return Finding(
        AlertKind.AIS_GAP, key, ts=state.last_ts + t.gap_s, impact=Impact.MEDIUM, confidence=0.7,
        zone_id=state.crossing, route=state.route, start_ts=state.last_ts, vessel_ids=(key,),
        lat=state.lat, lon=state.lon,
        detail=f"{key} silent for {hours:.1f} h since its last position",
        facts={"silent_s": t.gap_s},
    )  # fmt: skip


class _Fix:
    """Row i of the fix columns, read once."""

    __slots__ = (
        "callsign", "crossing", "event_id", "imo", "lat", "lon", "mmsi", "name", "received", "route", "ts",
        "vessel_type",
    )  # fmt: skip

    def __init__(self, fixes: Mapping[str, list[Any]], i: int) -> None:
        self.event_id: str = fixes["event_id"][i]
        self.ts: float = fixes["ts"][i]
        self.lat: float = fixes["lat"][i]
        self.lon: float = fixes["lon"][i]
        self.crossing: str = fixes["crossing"][i]
        self.route: str = fixes["route"][i]
        self.mmsi: str = fixes["mmsi"][i]
        self.imo: str = fixes["imo"][i]
        self.name: str = fixes["name"][i]
        self.callsign: str = fixes["callsign"][i]
        self.vessel_type: str = fixes["vessel_type"][i]
        self.received: float = fixes["received"][i]


def _step(
    key: str, s: VesselState, fix: _Fix, ctx: VesselContext, transitions: list[Transition]
) -> tuple[VesselState, list[Finding]]:
    """Long because every behaviour (speed, gap, loitering, geofences, watch list) judges the same
    leg, and the leg's values would otherwise be passed to each."""
    t = ctx.thresholds
    found: list[Finding] = []
    dt = fix.ts - s.last_ts
    leg_m = distance_m(s.lat, s.lon, fix.lat, fix.lon)
    # Micro-knot precision, so that a leg of exactly the threshold is not over it.
    speed_kn = round(knots(leg_m, dt), 6)
    flags = s.flags
    common: dict[str, Any] = {
        "vessel_ids": (key,),
        "event_ids": (fix.event_id,),
        "lat": fix.lat,
        "lon": fix.lon,
    }

    # The port lookup only for a long silence: most fixes follow the last within minutes.
    if dt >= t.gap_s and (
        flags & GAP_OPEN or (s.in_zone_of_interest and not ctx.ports.near_one(s.lon, s.lat, t.port_radius_m))
    ):
        if not flags & GAP_OPEN:  # back before any look: the gap a look would have found opens first
            found.append(_gap_opened(key, s, t))
        found.append(
            Finding(
                AlertKind.AIS_GAP, key, ts=fix.ts, active=False, impact=Impact.MEDIUM, confidence=0.7,
                zone_id=s.crossing, route=s.route, start_ts=s.last_ts,
                detail=f"{key} reappeared after {dt / 3600:.1f} h, "
                f"{leg_m / 1000:.1f} km from where it went dark",
                facts={"gap_s": dt, "gap_distance_m": leg_m}, **common,
            )
        )  # fmt: skip
    flags &= ~GAP_OPEN

    if speed_kn > t.max_speed_kn and leg_m >= t.speed_min_distance_m:
        found.append(
            Finding(
                AlertKind.IMPLAUSIBLE_SPEED, key, ts=fix.ts, impact=Impact.LOW, confidence=0.6,
                zone_id=fix.crossing, route=fix.route, start_ts=s.last_ts,
                detail=f"{key} moved {leg_m / 1000:.1f} km in {dt:.0f} s ({speed_kn:.0f} kn): "
                "spoofed or shared identity",
                facts={"speed_kn": speed_kn, "distance_m": leg_m, "dt_s": dt}, **common,
            )
        )  # fmt: skip

    if fix.crossing != s.crossing:
        if s.crossing:
            transitions.append(_transition(Direction.EXIT, key, fix, s.crossing, s.route))
        if fix.crossing:
            transitions.append(_transition(Direction.ENTER, key, fix, fix.crossing, fix.route))

    loiter, finding = _loiter(key, s, fix, dt, flags, ctx, common)
    if finding is not None:
        found.append(finding)
    state = VesselState(
        fix.ts, fix.lat, fix.lon, loiter.start_ts, loiter.dist_m, loiter.flags, fix.crossing, fix.route,
        *loiter.reference,
    )  # fmt: skip
    return state, found


class _Loiter(NamedTuple):
    """Loitering's part of a vessel's state after a fix."""

    start_ts: float
    dist_m: float
    flags: int
    reference: tuple[float, float, float]


def _loiter(
    key: str, s: VesselState, fix: _Fix, dt: float, flags: int, ctx: VesselContext, common: dict[str, Any]
) -> tuple[_Loiter, Finding | None]:
    """The leg from the reference fix: below `loiter_max_kn` it adds to the stretch, which is
    loitering once it lasts `loiter_min_s` away from ports; faster, the stretch ends."""
    t = ctx.thresholds
    ref_ts, ref_lat, ref_lon = s.reference()
    leg_m = distance_m(ref_lat, ref_lon, fix.lat, fix.lon)
    elapsed_s = fix.ts - ref_ts
    start, dist = s.loiter_start_ts, s.loiter_dist_m
    if dt >= t.gap_s and flags & LOITERING:  # silent too long to say: as end_silent_loitering has it
        return _no_stretch(flags), _went_dark_loitering(key, s)
    if dt < t.gap_s and _within_noise(leg_m, elapsed_s, t):
        return _Loiter(start, dist, flags, (ref_ts, ref_lat, ref_lon)), None
    # Micro-knot precision, so that a leg of exactly the threshold is not over it.
    speed_kn = round(knots(leg_m, elapsed_s), 6)
    if speed_kn < t.loiter_max_kn and dt < t.gap_s:
        if math.isnan(start):
            start, dist = ref_ts, 0.0
        dist += leg_m
        stretch_s = fix.ts - start
        average_kn = knots(dist, stretch_s)
        if (
            not flags & LOITERING
            and stretch_s >= t.loiter_min_s
            and average_kn < t.loiter_max_kn
            and not ctx.ports.near_one(fix.lon, fix.lat, t.port_radius_m)
        ):
            finding = _loitering(key, fix, start, average_kn, True, common)
            return _Loiter(start, dist, flags | LOITERING, _NO_REFERENCE), finding
        return _Loiter(start, dist, flags, _NO_REFERENCE), None
    ended = _loitering(key, fix, start, speed_kn, False, common) if flags & LOITERING else None
    return _no_stretch(flags), ended


def _no_stretch(flags: int) -> _Loiter:
    return _Loiter(math.nan, 0.0, flags & ~LOITERING, _NO_REFERENCE)


def _within_noise(leg_m: float, elapsed_s: float, t: Thresholds) -> bool:
    """Too close in space and time to tell a speed from position noise: a leg within
    `speed_min_distance_m`, over less time than that distance needs at `loiter_max_kn`."""
    return leg_m <= t.speed_min_distance_m and knots(t.speed_min_distance_m, elapsed_s) >= t.loiter_max_kn


def _transition(direction: Direction, key: str, fix: _Fix, zone: str, route: str) -> Transition:
    return Transition(
        vessel_key=key, mmsi=fix.mmsi, imo=fix.imo, name=fix.name, callsign=fix.callsign,
        vessel_type=fix.vessel_type, zone_id=zone, route=route, direction=direction,
        observed_at=datetime.fromtimestamp(fix.ts, UTC), event_id=fix.event_id, lat=fix.lat, lon=fix.lon,
        received_at=datetime.fromtimestamp(fix.received, UTC),
    )  # fmt: skip


def _loitering(
    key: str, fix: _Fix, start_ts: float, speed_kn: float, active: bool, common: dict[str, Any]
) -> Finding:
    hours = (fix.ts - start_ts) / 3600
    detail = (
        f"{key} has loitered for {hours:.1f} h at {speed_kn:.1f} kn on average"
        if active
        else f"{key} moved on at {speed_kn:.1f} kn after {hours:.1f} h"
    )
    return Finding(
        AlertKind.LOITERING, key, ts=fix.ts, active=active, impact=Impact.MEDIUM, confidence=0.7,
        zone_id=fix.crossing, route=fix.route, start_ts=start_ts, detail=detail,
        facts={"duration_s": fix.ts - start_ts, "average_kn": speed_kn}, **common,
    )  # fmt: skip


def _went_dark_loitering(key: str, s: VesselState) -> Finding:
    hours = (s.last_ts - s.loiter_start_ts) / 3600
    return Finding(
        AlertKind.LOITERING, key, ts=s.last_ts, active=False, impact=Impact.MEDIUM, confidence=0.7,
        zone_id=s.crossing, route=s.route, start_ts=s.loiter_start_ts, vessel_ids=(key,),
        lat=s.lat, lon=s.lon, detail=f"{key} went silent after loitering for {hours:.1f} h",
        facts={"duration_s": s.last_ts - s.loiter_start_ts},
    )  # fmt: skip


def _watched(key: str, fix: _Fix, reason: str) -> Finding:
    return Finding(
        AlertKind.VESSEL_OF_INTEREST, key, ts=fix.ts, impact=Impact.HIGH, confidence=0.95,
        zone_id=fix.crossing, route=fix.route, vessel_ids=(key,), event_ids=(fix.event_id,),
        lat=fix.lat, lon=fix.lon, detail=f"watch-listed vessel {key} reported ({reason})",
    )  # fmt: skip


def _crossings(
    fixes: Mapping[str, list[Any]], legs: list[tuple[int, VesselState]], ctx: VesselContext
) -> list[Transition]:
    """Zones a leg passes through with no fix inside: one vectorised query for the batch."""
    if not legs:
        return []
    rows = [i for i, _ in legs]
    hits = crossed_zones(
        ctx.crossings,
        [s.lon for _, s in legs],
        [s.lat for _, s in legs],
        [fixes["lon"][i] for i in rows],
        [fixes["lat"][i] for i in rows],
        [s.crossing for _, s in legs],
        [fixes["crossing"][i] for i in rows],
    )
    found = []
    for leg, zone in hits:
        i, _ = legs[leg]
        route = str(ctx.crossings.props[ctx.crossings.index_of(zone)]["route"])
        found.append(_transition(Direction.CROSS, fixes["vessel"][i], _Fix(fixes, i), zone, route))
    return found
