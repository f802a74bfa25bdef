"""Detect stage: a crossing's expected persons and reports per day, from the days it is compared with.

Two comparison periods, each a set of reference days (see `surge.robust_level`):
- seasonal: the same weeks in each of the past `surge_years` years (Farrington);
- recent: the `surge_recent_days` days before a guard band of `surge_guard_days`
  (EARS C2/C3), so that an episode still rising does not raise its own baseline.
A window is compared with the higher of the two: an ordinary count for the
season is not a surge because the last weeks were quiet, and a route busier
than in past years raises one alert when it rises, not one a day for months.

A reference day is the crossing's learned count when the worker has seen
that day whole (`Learned`), else the seed (`SeedHistory`): learned history
takes over from the prior day by day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from streams.detect.seed import CrossingSeed, SeedHistory, date_of
from streams.detect.surge import Level, WindowTest, robust_level, window_dispersion, window_tests
from streams.detect.thresholds import Thresholds

DAYS_PER_YEAR = 365.25
UNSEEDED_BOATS = CrossingSeed(route="", share=0.0, boat_mean=30.0, boat_sd=20.0)
MAX_CACHED = 20_000


@dataclass(frozen=True)
class Learned:
    """The daily totals a crossing has learned: days in [since, until) are known, zero if absent."""

    since: int
    until: int
    days: Mapping[int, tuple[int, int]]  # day -> (persons, reports), non-zero days only

    def get(self, day: int) -> tuple[float, float] | None:
        """The learned (persons, reports) of a day, or None when that day is not learned."""
        if self.since <= day < self.until:
            persons, reports = self.days.get(day, (0, 0))
            return float(persons), float(reports)
        return None


NOTHING_LEARNED = Learned(0, 0, {})


@dataclass(frozen=True)
class Expected:
    """What one metric is compared with: its level per day and the period it comes from."""

    level: Level
    comparison: str


@dataclass(frozen=True)
class DayBaseline:
    """A crossing's expected persons and reports per day, for one day."""

    persons: Expected
    reports: Expected


class Baselines:
    """Day baselines per crossing, computed once per day and learned state (they change only then)."""

    def __init__(self, seed: SeedHistory, t: Thresholds) -> None:
        self.seed = seed
        self.t = t
        self._cache: dict[tuple[str, int, int], DayBaseline] = {}
        self._tests: dict[tuple[str, int, int], dict[tuple[int, int], WindowTest]] = {}

    def of(self, crossing: str, day: int, learned: Learned) -> DayBaseline:
        """The baseline of `crossing` on `day`."""
        key = (crossing, day, learned.until)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            found = self._cache[key] = day_baseline(crossing, day, learned, self.seed, self.t)
        return found

    def test(self, crossing: str, day: int, learned: Learned, hours: int, metric: int) -> WindowTest:
        """The test of a window of `hours` (one of `surge_scales_h`) ending on `day`.

        `metric` is 0 for persons, 1 for reports. The tests of every time scale
        and metric of a day are made together: one scipy call for their thresholds.
        """
        return self.day_tests(crossing, day, learned)[hours, metric]

    def day_tests(self, crossing: str, day: int, learned: Learned) -> Mapping[tuple[int, int], WindowTest]:
        """The tests of every window (hours, metric) ending on `day`, as `test` gives them one by one."""
        key = (crossing, day, learned.until)
        found = self._tests.get(key)
        if found is None:
            if len(self._tests) >= MAX_CACHED:
                self._tests.clear()
            found = self._tests[key] = self._day_tests(crossing, self.of(crossing, day, learned))
        return found

    def _day_tests(self, crossing: str, base: DayBaseline) -> dict[tuple[int, int], WindowTest]:
        boats = self.seed.crossings.get(crossing, UNSEEDED_BOATS)
        t = self.t
        windows = [(h, m) for m in (0, 1) for h in t.surge_scales_h]
        levels = (base.persons.level, base.reports.level)
        compound = (boats.persons_per_boat_dispersion, 1.0)  # persons come in boats; boats one by one
        tests = window_tests(
            [levels[m].per_day * h / 24 for h, m in windows],
            [window_dispersion(levels[m].phi, compound[m], h) for h, m in windows],
            t.surge_level_cv,
            t.surge_p,
            [(t.surge_min_persons, t.surge_min_reports)[m] for _, m in windows],
        )
        return dict(zip(windows, tests))


def day_baseline(crossing: str, day: int, learned: Learned, seed: SeedHistory, t: Thresholds) -> DayBaseline:
    """Seasonal and recent levels of persons and reports; each metric takes the higher of its two."""

    def reference(d: int) -> tuple[float, float] | None:
        return learned.get(d) or seed.daily(crossing, d)

    boats = seed.crossings.get(crossing, UNSEEDED_BOATS)
    floors = (boats.boat_sd**2 / boats.boat_mean + t.surge_boat_dispersion * boats.boat_mean,
              t.surge_boat_dispersion)  # fmt: skip
    periods = [(_seasonal_days(day, t), _seasonal_label(day, t))] if t.surge_years else []
    periods.append((_recent_days(day, t), _recent_label(day, t)))
    best: list[Expected | None] = [None, None]
    for days, label in periods:
        values = [v for v in map(reference, days) if v is not None]
        if not values:
            continue
        for metric in (0, 1):
            level = robust_level([v[metric] for v in values], floors[metric])
            current = best[metric]
            if current is None or level.per_day > current.level.per_day:
                best[metric] = Expected(level, label)
    prior = (t.surge_prior_per_day, t.surge_prior_per_day / boats.boat_mean)
    persons, reports = (
        found or Expected(Level(prior[m], floors[m]), "the default prior (no history for this crossing)")
        for m, found in enumerate(best)
    )
    return DayBaseline(persons, reports)


def _seasonal_days(day: int, t: Thresholds) -> list[int]:
    half = 7 * t.surge_weeks_around
    return [
        round(day - k * DAYS_PER_YEAR) + offset
        for k in range(1, t.surge_years + 1)
        for offset in range(-half, half + 1)
    ]


def _recent_days(day: int, t: Thresholds) -> list[int]:
    last = day - t.surge_guard_days - 1
    return list(range(last - t.surge_recent_days + 1, last + 1))


def _seasonal_label(day: int, t: Thresholds) -> str:
    d = date_of(day)
    part = "early" if d.day <= 10 else "mid" if d.day <= 20 else "late"
    years = f"{d.year - t.surge_years}–{d.year - 1}" if t.surge_years > 1 else str(d.year - 1)
    return f"{part}-{d:%B} in {years}"


def _recent_label(day: int, t: Thresholds) -> str:
    last = date_of(day - t.surge_guard_days - 1)
    return f"the {t.surge_recent_days} days to {last:%d %b %Y}"
