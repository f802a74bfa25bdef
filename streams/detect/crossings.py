"""Detect stage: surges and mass attempts at a crossing, on event-time windows.

Pure: a crossing's state in, its new state and findings out. Persons are kept
per minute of observed_at, so a report up to the allowed lateness late still
lands in its own window. A window closes when the watermark passes its end;
only then does it teach the baseline (an EWMA mean and variance for that hour
of the week), empty windows included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.alerts import AlertKind, Impact
from streams.detect.findings import Finding
from streams.detect.thresholds import Thresholds

WEEK_S = 7 * 24 * 3600
MINUTE_S = 60
MASS_KINDS = frozenset({"land_crossing", "fence_section"})
MAX_EVIDENCE = 50


@dataclass
class CrossingState:
    """Persons per minute still inside the lateness horizon, and the weekly baseline."""

    closed_until: float
    mean: list[float]
    var: list[float]
    minutes: dict[int, list[Any]] = field(default_factory=dict)  # minute start -> [persons, [event ids]]
    surging: list[float] = field(default_factory=list)  # starts of open windows that surged

    @classmethod
    def new(cls, first_ts: float, t: Thresholds) -> CrossingState:
        """A crossing seen for the first time: baseline from the configured prior."""
        slots = _slots(t)
        start = math.floor(first_ts / t.surge_window_s) * t.surge_window_s
        return cls(start, [t.surge_prior_mean] * slots, [t.surge_prior_var] * slots)

    def to_json(self) -> dict[str, Any]:
        """Plain data for the table's changelog."""
        return {
            "closed_until": self.closed_until,
            "mean": self.mean,
            "var": self.var,
            "minutes": [[m, p, ids] for m, (p, ids) in self.minutes.items()],
            "surging": self.surging,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CrossingState:
        """Back from `to_json`."""
        minutes = {int(m): [p, ids] for m, p, ids in data["minutes"]}
        return cls(data["closed_until"], data["mean"], data["var"], minutes, data["surging"])


@dataclass(frozen=True)
class CrossingOutcome:
    """A crossing's new state, its findings, and the reports that came too late for any window."""

    state: CrossingState
    findings: list[Finding]
    too_late: int


def detect_crossing(
    crossing: str,
    sightings: list[tuple[str, float, int, str, str]],
    state: CrossingState | None,
    watermark: float,
    t: Thresholds,
    close_until: float | None = None,
) -> CrossingOutcome:
    """Add (event_id, ts, persons, crossing_kind, route) sightings in arrival order; close windows; evaluate.

    `watermark` is the partition's before this batch; within the batch it
    advances with each sighting, as if they had arrived one by one. A sighting
    older than the watermark at its arrival, or in a window already closed, is
    too late (it is still in ClickHouse). A sighting already counted (a replay)
    is not counted again. Windows close up to the watermark after the batch, or
    `close_until` (the partition's watermark) when that is later.
    """
    if state is None:
        state = CrossingState.new(min(s[1] for s in sightings) if sightings else watermark, t)
    route = sightings[0][4] if sightings else ""
    kind = sightings[0][3] if sightings else ""
    touched: set[int] = set()
    too_late = 0
    for event_id, ts, persons, _, _ in sightings:
        if ts < watermark or ts < state.closed_until:
            too_late += 1
            continue
        watermark = max(watermark, ts - t.allowed_lateness_s)
        minute = int(ts // MINUTE_S) * MINUTE_S
        bucket = state.minutes.setdefault(minute, [0, []])
        if event_id in bucket[1]:
            continue
        bucket[0] += persons
        bucket[1].append(event_id)
        touched.add(minute)

    # Judge the touched windows first, then close what the watermark has passed:
    # a window that surged and closed in the same batch is reported, then resolved.
    findings = _surges(crossing, route, state, touched, t)
    if kind in MASS_KINDS:
        findings += _mass_attempts(crossing, route, state, touched, t)
    closing = watermark if close_until is None else max(watermark, close_until)
    findings += _close_windows(crossing, route, state, closing, t)
    horizon = state.closed_until - t.mass_window_s
    state.minutes = {m: b for m, b in state.minutes.items() if m >= horizon}
    return CrossingOutcome(state, findings, too_late)


def surge_impact(persons: float, mean: float, var: float, t: Thresholds) -> tuple[Impact, float] | None:
    """Impact level and z-score of a window's persons against its baseline; None below threshold."""
    z = (persons - mean) / math.sqrt(var)
    if persons < t.surge_min_persons or z < t.surge_z[0]:
        return None
    level = sum(1 for threshold in t.surge_z if z >= threshold) - 1
    return list(Impact)[level], z


def _slots(t: Thresholds) -> int:
    return max(1, round(WEEK_S / t.surge_window_s))


def _slot(window_start: float, t: Thresholds) -> int:
    return int(window_start // t.surge_window_s) % _slots(t)


def _window_sum(state: CrossingState, start: float, length: float) -> tuple[int, list[str]]:
    """Persons and evidence in [start, start + length), read minute by minute."""
    persons, ids = 0, []
    for minute in range(int(start), int(start + length), MINUTE_S):
        bucket = state.minutes.get(minute)
        if bucket is not None:
            persons += bucket[0]
            ids.extend(bucket[1])
    return persons, ids


def _window_totals(state: CrossingState, length: float) -> dict[float, int]:
    """Persons per aligned window, in one pass over the minutes."""
    totals: dict[float, int] = {}
    for minute, (persons, _) in state.minutes.items():
        start = math.floor(minute / length) * length
        totals[start] = totals.get(start, 0) + persons
    return totals


def _close_windows(
    crossing: str, route: str, state: CrossingState, watermark: float, t: Thresholds
) -> list[Finding]:
    """Teach the baseline every window the watermark has passed, and end surges whose window closed."""
    findings = []
    w = t.surge_window_s
    closable = math.floor((watermark - state.closed_until) / w)
    # After a long silence each slot has seen a week of empty windows; more would change little.
    skip = max(0, closable - _slots(t))
    state.closed_until += skip * w
    totals = _window_totals(state, w) if closable > skip else {}
    for _ in range(closable - skip):
        start = state.closed_until
        persons = totals.get(start, 0)
        slot = _slot(start, t)
        diff = persons - state.mean[slot]
        state.mean[slot] += t.surge_alpha * diff
        state.var[slot] = max((1 - t.surge_alpha) * (state.var[slot] + t.surge_alpha * diff * diff), 1.0)
        state.closed_until = start + w
        if start in state.surging:
            state.surging.remove(start)
            if not state.surging:
                findings.append(
                    Finding(
                        AlertKind.SURGE, crossing, ts=start + w, active=False, zone_id=crossing, route=route,
                        detail=f"surge at {crossing} over: {persons} persons in the window that closed",
                    )
                )  # fmt: skip
    return findings


def _surges(
    crossing: str, route: str, state: CrossingState, minutes: set[int], t: Thresholds
) -> list[Finding]:
    w = t.surge_window_s
    findings = []
    totals = _window_totals(state, w) if minutes else {}
    for start in sorted({math.floor(m / w) * w for m in minutes}):
        persons = totals.get(start, 0)
        slot = _slot(start, t)
        found = surge_impact(persons, state.mean[slot], state.var[slot], t)
        if found is None:
            continue
        impact, z = found
        _, ids = _window_sum(state, start, w)
        if start not in state.surging:
            state.surging.append(start)
        findings.append(
            Finding(
                AlertKind.SURGE, crossing, ts=start + w, impact=impact, confidence=min(0.99, 0.5 + z / 40),
                zone_id=crossing, route=route, start_ts=start, event_ids=tuple(ids[-MAX_EVIDENCE:]),
                detail=f"{persons} persons at {crossing} in {w / 3600:g} h against a baseline of "
                f"{state.mean[slot]:.1f} (z = {z:.1f})",
                facts={"persons": persons, "baseline_mean": state.mean[slot], "z": z},
            )
        )  # fmt: skip
    return findings


def _mass_attempts(
    crossing: str, route: str, state: CrossingState, minutes: set[int], t: Thresholds
) -> list[Finding]:
    """The busiest mass window that holds a touched minute, if it reaches the threshold.

    Running sums over the minutes around the touched ones: one pass, however
    many reports the batch brought.
    """
    if not minutes:
        return []
    span = int(t.mass_window_s // MINUTE_S)
    first = min(minutes) - (span - 1) * MINUTE_S
    last = max(minutes) + (span - 1) * MINUTE_S
    per_minute = [state.minutes.get(m, (0,))[0] for m in range(first, last + MINUTE_S, MINUTE_S)]
    running = [0]
    for persons in per_minute:
        running.append(running[-1] + persons)
    best_persons, best_start = -1, first
    for minute in minutes:
        for back in range(span):
            i = (minute - first) // MINUTE_S - back
            if i < 0 or i + span > len(per_minute):
                continue
            persons = running[i + span] - running[i]
            if persons > best_persons:
                best_persons, best_start = persons, first + i * MINUTE_S
    if best_persons < t.mass_min_persons:
        return []
    persons, start = best_persons, best_start
    _, ids = _window_sum(state, start, t.mass_window_s)
    impact = Impact.VERY_HIGH if persons >= 3 * t.mass_min_persons else Impact.HIGH
    return [
        Finding(
            AlertKind.MASS_ATTEMPT, crossing, ts=start + t.mass_window_s, impact=impact, confidence=0.9,
            zone_id=crossing, route=route, start_ts=start, event_ids=tuple(ids[-MAX_EVIDENCE:]),
            detail=f"{persons} persons at {crossing} within {t.mass_window_s / 60:g} min",
            facts={"persons": persons},
        )
    ]  # fmt: skip
