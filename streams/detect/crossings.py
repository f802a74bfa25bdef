"""Detect stage: surges and mass attempts at a crossing, on event-time windows.

Pure: a crossing's state and learned history in, their new values and
findings out. Persons and reports are kept per hour of observed_at, so a report
up to the allowed lateness late still lands in its own hour; hours older than
the watermark are closed, and a day whose hours are all closed becomes a day of
learned history (`CrossingHistory`). Each batch judges the windows (6 h, 24 h,
7 days by default) that end at every hour it added to, and at the clock's
current hour: a late report can open or raise a surge after the fact.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any, NamedTuple

from schemas.alerts import AlertKind, Impact
from streams.detect.baseline import Baselines, Learned
from streams.detect.boats import large_boats
from streams.detect.clock import EventClock
from streams.detect.findings import Finding
from streams.detect.inhibit import DEFAULT_INHIBIT_RULES, InhibitRule
from streams.detect.seed import DAY_S, day_of
from streams.detect.surge import WindowTest
from streams.detect.thresholds import SURGE_MAX_SCALE_H, Thresholds

HOUR_S = 3600
MINUTE_S = 60
MASS_KINDS = frozenset({"land_crossing", "fence_section"})
MAX_EVIDENCE = 50
METRICS = ("persons", "reports")
LATE_NOTE_S = 3600  # reports this much later than their window are said to be late
JOINT_MAX_H = 24  # the joint gate judges onsets: windows of a day or less


@dataclass(slots=True)
class HourCount:
    """Persons and reports of one hour; in the changelog `[hour, persons, reports, ids]`."""

    persons: int = 0
    reports: int = 0
    ids: list[str] = field(default_factory=list)  # event ids counted, while the hour is open


class DayCount(NamedTuple):
    """Persons and reports of one whole day; in the changelog `[day, persons, reports]`."""

    persons: int
    reports: int


@dataclass
class CrossingState:
    """Counts per hour still inside the longest window, and per minute for mass attempts.

    `closed_until` is an hour boundary: no report older than it is taken.
    Event ids (to count a replayed report once) are kept only for open hours.
    """

    closed_until: float
    hours: dict[int, HourCount] = field(default_factory=dict)  # by hour start
    minutes: dict[int, int] = field(default_factory=dict)  # minute start -> persons (mass kinds only)
    judged: int = -1  # the last current hour whose windows were judged
    # The crossing's own event clock: its windows close and its alerts resolve on its own reports'
    # time, whatever else shares its partition. None in state written before it existed.
    clock: EventClock | None = None
    # The running totals of `hours` last judged (never in the changelog): kept up to date as reports
    # are added, so that judging a report does not sum every hour again (see `_PrefixSums.of`).
    window_sums: _PrefixSums | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """Plain data for the table's changelog; "clock" only once the crossing has one (older
        records have none, and read back they are written as they were)."""
        data: dict[str, Any] = {
            "closed_until": self.closed_until,
            "judged": self.judged,
            "hours": [[h, c.persons, c.reports, list(c.ids)] for h, c in self.hours.items()],
            "minutes": [[m, p] for m, p in self.minutes.items()],
        }
        if self.clock is not None:
            data["clock"] = self.clock.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CrossingState:
        """Back from `to_json`; raises on any other shape (a changelog record is input too)."""
        hours = {int(h): HourCount(int(p), int(r), [str(i) for i in ids]) for h, p, r, ids in data["hours"]}
        minutes = {int(m): int(p) for m, p in data["minutes"]}
        clock = EventClock.from_json(data["clock"]) if "clock" in data else None
        return cls(float(data["closed_until"]), hours, minutes, int(data["judged"]), clock)


@dataclass
class CrossingHistory:
    """Persons and reports of each whole day the crossing has seen: days in [since, until)."""

    since: int
    until: int
    days: dict[int, DayCount] = field(default_factory=dict)  # non-zero days only

    def learned(self) -> Learned:
        """The view baselines read."""
        return Learned(self.since, self.until, self.days)

    def to_json(self) -> dict[str, Any]:
        """Plain data for the table's changelog."""
        return {
            "since": self.since,
            "until": self.until,
            "days": [[d, c.persons, c.reports] for d, c in self.days.items()],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CrossingHistory:
        """Back from `to_json`; raises on any other shape."""
        days = {int(d): DayCount(int(p), int(r)) for d, p, r in data["days"]}
        return cls(int(data["since"]), int(data["until"]), days)


@dataclass(frozen=True)
class Sighting:
    """One interception report as the crossing detector sees it."""

    event_id: str
    ts: float
    persons: int
    reported: float  # when the centre reported it


@dataclass(frozen=True)
class CrossingContext:
    """What crossing detection needs besides the sightings: its thresholds and baselines."""

    thresholds: Thresholds
    baselines: Baselines
    inhibit_rules: tuple[InhibitRule, ...] = DEFAULT_INHIBIT_RULES


@dataclass(frozen=True)
class CrossingOutcome:
    """A crossing's new state and history, its findings, and the reports too late for any window."""

    state: CrossingState
    history: CrossingHistory
    history_changed: bool
    findings: list[Finding]
    too_late: int
    changed: bool = True  # False: nothing to add, close or judge; the state is as it was


def detect_crossing(
    crossing: str,
    kind: str,
    route: str,
    sightings: list[Sighting],
    state: CrossingState | None,
    history: CrossingHistory | None,
    watermark: float,
    now_ts: float,
    ctx: CrossingContext,
) -> CrossingOutcome:
    """Add sightings in arrival order; close what the watermark passed; judge the windows touched.

    `watermark` is the partition's before this batch; within the batch it
    advances with each sighting, as if they had arrived one by one. A sighting
    older than the watermark at its arrival, or in an hour already closed, is
    too late (it is still in ClickHouse). A sighting already counted (a replay)
    is not counted again. `state` and `history` are changed in place.
    """
    t = ctx.thresholds
    state, history = _started(state, history, sightings, watermark, now_ts)
    now_hour = _floor(now_ts, HOUR_S)
    closes_to = _floor(max(watermark, now_ts - t.allowed_lateness_s), HOUR_S)
    if not sightings and now_hour <= state.judged and closes_to <= state.closed_until:
        return CrossingOutcome(state, history, False, [], 0, changed=False)  # quiet, and judged this hour
    touched: dict[int, float] = {}  # hour -> latest report time of a report added to it
    added: set[str] = set()
    minutes: set[int] = set()
    too_late = 0
    for s in sightings:
        if s.ts < watermark or s.ts < state.closed_until:
            too_late += 1
            continue
        watermark = max(watermark, s.ts - t.allowed_lateness_s)
        hour = _floor(s.ts, HOUR_S)
        bucket = state.hours.get(hour)
        if bucket is None:
            bucket = state.hours[hour] = HourCount()
        if s.event_id in bucket.ids:
            continue
        bucket.persons += s.persons
        bucket.reports += 1
        _PrefixSums.added(state, hour, s.persons)
        bucket.ids.append(s.event_id)
        added.add(s.event_id)
        touched[hour] = max(touched.get(hour, -math.inf), s.reported)
        if kind in MASS_KINDS:
            minute = _floor(s.ts, MINUTE_S)
            state.minutes[minute] = state.minutes.get(minute, 0) + s.persons
            minutes.add(minute)

    # Judge first, then close: a surge found in an hour that closes in this batch is still reported.
    findings = _surges(crossing, route, state, history, touched, now_ts, ctx)
    if kind not in MASS_KINDS:
        findings += large_boats(crossing, route, [s for s in sightings if s.event_id in added], history, ctx)
    if minutes:
        findings += _mass_attempts(crossing, route, state, minutes, t)
    history_changed = _close(state, history, max(watermark, now_ts - t.allowed_lateness_s), t)
    state.judged = max(state.judged, now_hour)
    return CrossingOutcome(state, history, history_changed, findings, too_late)


_NO_DAY = DayCount(0, 0)


def _started(
    state: CrossingState | None,
    history: CrossingHistory | None,
    sightings: list[Sighting],
    watermark: float,
    now_ts: float,
) -> tuple[CrossingState, CrossingHistory]:
    """The crossing's state and history, new ones from its first sighting (or now) if it has none."""
    if state is None:
        first = min((s.ts for s in sightings), default=now_ts)
        state = CrossingState(_floor(max(first, watermark) if math.isfinite(watermark) else first, HOUR_S))
    if history is None:
        first_day = day_of(state.closed_until) + (0 if state.closed_until % DAY_S == 0 else 1)
        history = CrossingHistory(first_day, first_day)
    return state, history


def _floor(ts: float, step: int) -> int:
    return int(ts // step) * step


def _close(state: CrossingState, history: CrossingHistory, watermark: float, t: Thresholds) -> bool:
    """Close the hours the watermark passed, learn the days they complete, forget what no window reads."""
    closed = _floor(watermark, HOUR_S)
    if closed <= state.closed_until:
        return False
    state.closed_until = closed
    for hour, bucket in state.hours.items():
        if hour < closed and bucket.ids:
            bucket.ids = []
    last_day = day_of(closed)  # days before this one are whole
    changed = False
    if last_day > history.until:
        first = max(history.until, history.since)
        for hour, count in state.hours.items():
            day = day_of(hour)
            if first <= day < last_day:
                old = history.days.get(day, _NO_DAY)
                history.days[day] = DayCount(old.persons + count.persons, old.reports + count.reports)
        history.until = max(history.until, last_day)
        keep_from = last_day - round(t.surge_years * 366 + 7 * t.surge_weeks_around) - 1
        keep_from = min(keep_from, last_day - t.surge_recent_days - t.surge_guard_days - 1)
        history.days = {d: v for d, v in history.days.items() if d >= keep_from}
        changed = True
    horizon = closed - SURGE_MAX_SCALE_H * HOUR_S
    state.hours = {h: b for h, b in state.hours.items() if h >= horizon}
    state.minutes = {m: p for m, p in state.minutes.items() if m >= closed - t.mass_window_s}
    return changed


@dataclass(frozen=True)
class _Window:
    """One window's test: which scale and metric was rare, the counts of both, the impact by size."""

    hours: int
    metric: int  # the metric whose rarity made it a surge: 0 persons, 1 boats (reports)
    observed: int
    test: WindowTest
    impact: Impact
    counts: tuple[int, int]  # persons and boats in the window
    expected: tuple[float, float]  # persons and boats expected in it
    joint: tuple[float, float] | None = None  # both tails, when the joint gate made it a surge

    @property
    def ratio(self) -> float:
        return self.counts[0] / self.expected[0] if self.expected[0] > 0 else math.inf

    @property
    def strength(self) -> tuple[int, float]:
        return self.impact.rank, self.observed / self.test.counts[0]


def size_impact(counts: tuple[int, int], expected: tuple[float, float], t: Thresholds) -> Impact:
    """The impact of a surge by its size: each level needs, in persons or in boats, both
    `surge_size_ratio` times the expected and the level's excess over it (EUROSUR judges impact by
    size and effect, not rarity alone). Low below medium: rarity alone made it a surge."""
    level = 0
    persons, boats = counts
    persons_expected, boats_expected = expected
    # Written out, not a generator per level: this runs for every window of every report.
    for n, (ratio, excess_persons, excess_boats) in enumerate(
        zip(t.surge_size_ratio, t.surge_size_persons, t.surge_size_boats), start=1
    ):
        if (persons >= ratio * persons_expected and persons - persons_expected >= excess_persons) or (
            boats >= ratio * boats_expected and boats - boats_expected >= excess_boats
        ):
            level = n
    return LEVELS[level]


LEVELS = tuple(Impact)


def _gated_by_size(test: WindowTest, observed: int, impact: Impact, t: Thresholds) -> bool:
    """A window high or very high by size needs less rarity to be a surge (`surge_gate_p_by_size`).

    The cost of a miss grows with the incident, the cost of a false alarm does
    not (EUROSUR weighs risk as likelihood and impact): 5,000 persons where 350
    are expected is not rare at a crossing whose month held days of 1,700, but
    a centre that waits for it to be rare waits a day.
    """
    if impact.rank < Impact.HIGH.rank:
        return False
    gate = t.surge_gate_p_by_size[impact.rank - Impact.HIGH.rank]
    return gate > t.surge_p[0] and test.probability(observed) <= gate


def _joint_tails(
    tests: list[WindowTest], observed: tuple[int, int], impact: Impact, hours: int, t: Thresholds
) -> tuple[float, float] | None:
    """Both tail probabilities, when persons and boats are both at or below `surge_gate_p_joint` in a
    window of at most a day, very high by size; else None.

    One metric alone at that level is common at a busy sea crossing (a big boat, a
    spell of calm weather); both together, with the excess very high, is how a
    sea episode looks hours before either count alone is rare (Lampedusa's wave of
    110 boats: 770 persons and 12 boats in 6 h where 85 and 2 are expected, tails
    2e-3 and 9e-3, against 1.3e-4 that rarity alone needs). Only for the onset: a
    week-long window after an episode still holds it, and would keep its alert open.
    """
    minimums = (t.surge_min_persons, t.surge_min_reports)
    if hours > JOINT_MAX_H or impact is not Impact.VERY_HIGH:
        return None
    if any(observed[m] < minimums[m] for m in (0, 1)):
        return None
    tails = (tests[0].probability(observed[0]), tests[1].probability(observed[1]))
    return tails if max(tails) <= t.surge_gate_p_joint else None


def _surges(
    crossing: str,
    route: str,
    state: CrossingState,
    history: CrossingHistory,
    touched: dict[int, float],
    now_ts: float,
    ctx: CrossingContext,
) -> list[Finding]:
    """The strongest exceedance of the windows ending at each touched hour and at the current hour.

    A window is a surge when its persons or its boats are rare for the crossing
    (the first level of `surge_p`); its impact comes from its size (`size_impact`).
    A batch can bring many hours at once (a late batch). Of their
    exceedances, findings are made of the first, each that rises above the
    ones before, and the last: an alert group keeps the first start, the
    highest impact and the latest evidence, so the others would change nothing.
    """
    if not state.hours:
        return []
    now_hour = _floor(now_ts, HOUR_S)
    ends = set(touched)
    if now_hour - max(state.hours) < SURGE_MAX_SCALE_H * HOUR_S:
        ends.add(now_hour)
    sums = _PrefixSums.of(state)
    learned = history.learned()
    exceedances: list[tuple[int, _Window]] = []  # (end, strongest window ending there)
    for hour in sorted(ends):
        best = _strongest(crossing, hour + HOUR_S, sums, learned, ctx)
        if best is not None:
            exceedances.append((hour + HOUR_S, best))
    findings = []
    highest = -1
    for n, (end, w) in enumerate(exceedances):
        if n == 0 or w.impact.rank > highest or n == len(exceedances) - 1:
            reported = touched.get(end - HOUR_S, max(touched.values(), default=now_ts))
            findings.append(_surge(crossing, route, state, history, w, end, reported, ctx))
        highest = max(highest, w.impact.rank)
    return findings


def _strongest(
    crossing: str, end: int, sums: _PrefixSums, learned: Learned, ctx: CrossingContext
) -> _Window | None:
    """The strongest surge among the windows (each scale, each metric) ending at `end`; None if none.

    What is not needed is not computed: the day's tests only once a window reaches a minimum, the
    joint tails only for a metric not rare on its own (these run for every report).
    """
    t = ctx.thresholds
    minimums = (t.surge_min_persons, t.surge_min_reports)
    day_tests: Mapping[tuple[int, int], WindowTest] | None = None
    best: _Window | None = None
    for hours in t.surge_scales_h:
        observed = sums.between(end - hours * HOUR_S, end)
        if observed[0] < minimums[0] and observed[1] < minimums[1]:
            continue  # no surge in either metric however unusual: no baseline needed
        if day_tests is None:
            day_tests = ctx.baselines.day_tests(crossing, day_of(end - HOUR_S), learned)
        tests = [day_tests[hours, 0], day_tests[hours, 1]]
        expected = (tests[0].expected, tests[1].expected)
        impact = size_impact(observed, expected, t)
        joint: tuple[float, float] | bool | None = False  # False: not computed yet
        for metric in (0, 1):
            if observed[metric] < minimums[metric]:
                continue
            test = tests[metric]
            rare = observed[metric] >= test.least  # test.impact(observed) is not None
            if not rare:
                if joint is False:
                    joint = _joint_tails(tests, observed, impact, hours, t)
                if not (_gated_by_size(test, observed[metric], impact, t) or joint):
                    continue
            if hours > 24 and sums.between(end - 24 * HOUR_S, end)[metric] < test.expected * 24 / hours:
                continue  # a week-long window counts only while its last day is above normal too
            strength = (impact.rank, observed[metric] / test.counts[0])  # _Window.strength, before making one
            if best is None or strength > best.strength:
                both = None if rare or isinstance(joint, bool) else joint
                best = _Window(hours, metric, observed[metric], test, impact, observed, expected, both)
    return best


def _surge(
    crossing: str,
    route: str,
    state: CrossingState,
    history: CrossingHistory,
    w: _Window,
    end: int,
    reported: float,
    ctx: CrossingContext,
) -> Finding:
    start = end - w.hours * HOUR_S
    base = ctx.baselines.of(crossing, day_of(end - HOUR_S), history.learned())
    expected = base.persons if w.metric == 0 else base.reports
    upper = w.test.upper()
    probability = w.test.probability(w.observed)
    noun = "persons" if w.metric == 0 else "boats"
    persons, boats = w.counts
    detail = (
        f"{persons:,} persons in {_span(w.hours)} at {crossing} ({_when(start)} to {_when(end)}), "
        f"{_times(persons, w.expected[0])} the {_expected(w.expected[0])} expected; {boats:,} boats, "
        f"{_times(boats, w.expected[1])} the {_expected(w.expected[1])} expected; "
        f"{w.impact.value.replace('_', ' ')} by size; rare in {noun}: 99% upper bound {upper:,} "
        f"for {expected.comparison}, tail probability {probability:.1e} "
        f"(a surge from {w.test.counts[0]:,} {noun}, {ctx.thresholds.surge_p[0]:.0e})"
    )
    if w.joint is not None:
        detail += (
            f"; persons and boats together: tail probabilities {w.joint[0]:.1e} and {w.joint[1]:.1e}, "
            f"both at or below {ctx.thresholds.surge_gate_p_joint:.0e}, with a very high excess"
        )
    if reported - end > LATE_NOTE_S:
        late_h = (reported - end) / 3600
        detail += f"; reported late: the last report came {_when(reported)}, {late_h:.0f} h after"
    ids = [i for h in sorted(state.hours) if start <= h < end for i in state.hours[h].ids]
    return Finding(
        AlertKind.SURGE, crossing, ts=end, impact=w.impact, confidence=min(0.99, 1 - probability),
        zone_id=crossing, route=route, start_ts=start, event_ids=tuple(ids[-MAX_EVIDENCE:]), detail=detail,
        facts={"observed": w.observed, "expected": w.test.expected, "upper_bound": upper,
               "threshold": w.test.counts[0], "window_h": w.hours, "tail_probability": probability,
               "reported_at": reported, "persons": persons, "boats": boats,
               "expected_persons": w.expected[0], "expected_boats": w.expected[1]},
    )  # fmt: skip


def _times(observed: int, expected: float) -> str:
    return f"{observed / expected:,.1f} times" if expected > 0 else "with none"


def _expected(value: float) -> str:
    """An expected count as a person reads it: whole from 100, one decimal from 1, else two
    significant digits (a quiet crossing expects 0.47 persons in 6 h, not 0)."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 1 else f"{value:.2g}"


def _span(hours: int) -> str:
    return f"{hours // 24} days" if hours > 24 and hours % 24 == 0 else f"{hours} h"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%d %b %Y %H:%M UTC")


class _PrefixSums:
    """Persons and reports in any span of whole hours, by bisection over running totals."""

    def __init__(self, hours: Mapping[int, HourCount]) -> None:
        self.hours = hours  # the mapping summed: only these totals' own `add` may change its counts
        self.starts = sorted(hours)
        self.persons = list(accumulate((hours[h].persons for h in self.starts), initial=0))
        self.reports = list(accumulate((hours[h].reports for h in self.starts), initial=0))

    @classmethod
    def of(cls, state: CrossingState) -> _PrefixSums:
        """The totals of the state's hours: the ones kept on the state while still of its hours (the
        same mapping, no hour added or dropped), else summed again. Summing every hour for every
        report was a fifth of detection's CPU on a busy feed (scripts/bench_detect.py)."""
        kept = state.window_sums
        if kept is None or not kept.covers(state.hours):
            kept = state.window_sums = cls(state.hours)
        return kept

    def covers(self, hours: Mapping[int, HourCount]) -> bool:
        """Whether these are still the totals of `hours` (hours are only added, or dropped in a new map)."""
        return hours is self.hours and len(hours) == len(self.starts)

    @staticmethod
    def added(state: CrossingState, hour: int, persons: int) -> None:
        """A report of `persons` was added to `hour` of the state: its kept totals follow, if it has any
        that still cover its hours (a new hour: they are summed again when next judged)."""
        kept = state.window_sums
        if kept is not None and kept.covers(state.hours):
            kept.add(hour, persons)

    def add(self, hour: int, persons: int) -> None:
        """A report of `persons` added to an hour these totals cover."""
        first = bisect_left(self.starts, hour) + 1
        for i in range(first, len(self.persons)):
            self.persons[i] += persons
            self.reports[i] += 1

    def between(self, start: float, end: float) -> tuple[int, int]:
        a, b = bisect_left(self.starts, start), bisect_left(self.starts, end)
        return self.persons[b] - self.persons[a], self.reports[b] - self.reports[a]


def _mass_attempts(
    crossing: str, route: str, state: CrossingState, minutes: set[int], t: Thresholds
) -> list[Finding]:
    """The busiest mass window that holds a touched minute, if it reaches the threshold.

    Running sums over the minutes around the touched ones: one pass, however
    many reports the batch brought.
    """
    span = int(t.mass_window_s // MINUTE_S)
    first = min(minutes) - (span - 1) * MINUTE_S
    last = max(minutes) + (span - 1) * MINUTE_S
    per_minute = [state.minutes.get(m, 0) for m in range(first, last + MINUTE_S, MINUTE_S)]
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
    end = start + t.mass_window_s
    ids = [i for h in sorted(state.hours) if start - HOUR_S < h < end for i in state.hours[h].ids]
    impact = Impact.VERY_HIGH if persons >= 3 * t.mass_min_persons else Impact.HIGH
    return [
        Finding(
            AlertKind.MASS_ATTEMPT, crossing, ts=end, impact=impact, confidence=0.9,
            zone_id=crossing, route=route, start_ts=start, event_ids=tuple(ids[-MAX_EVIDENCE:]),
            detail=f"{persons:,} persons at {crossing} within {t.mass_window_s / 60:g} min "
            f"({_when(start)} to {_when(end)}); a mass attempt is {t.mass_min_persons:,} or more",
            facts={"persons": persons, "threshold": t.mass_min_persons},
        )
    ]  # fmt: skip
