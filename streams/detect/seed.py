"""Detect stage: the history a fresh install starts from, before it has learned its own.

Frontex's monthly detections per route (bundled, January 2009 to April 2025)
are spread to crossings with documented shares (`crossing_shares.csv`) and
turned into boats with each route's mean boat size (`boat_sizes.csv`); both
files say where each figure comes from. A month outside the figures gets the
mean of the same calendar month over the last `CLIMATOLOGY_YEARS` years that
have it. An operator's own CSV of daily counts per crossing takes precedence
over the spread figures for the days it covers.
"""

from __future__ import annotations

import calendar
import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from schemas.errors import BorderwatchError
from streams.data import SEED_SOURCES_DIR

CLIMATOLOGY_YEARS = 3
MAX_HISTORY_BYTES = 64 * 1024 * 1024
MAX_DAILY_COUNT = 1_000_000
MAX_CACHED_DAYS = 200_000
EPOCH = date(1970, 1, 1)
DAY_S = 86400


class HistoryError(BorderwatchError):
    """An operator's history file cannot be used; the message names the line."""


def day_of(ts: float) -> int:
    """Day number (days since 1970-01-01, UTC) of an epoch time."""
    return int(ts // DAY_S)


def date_of(day: int) -> date:
    """The calendar date of a day number."""
    return date.fromordinal(EPOCH.toordinal() + day)


@dataclass(frozen=True)
class CrossingSeed:
    """Where a crossing's prior comes from: its Frontex route, its share of it, its boats' size."""

    route: str
    share: float
    boat_mean: float
    boat_sd: float

    @property
    def persons_per_boat_dispersion(self) -> float:
        """E[B^2] / E[B] of the boat size B: how much lumpier persons are than boats."""
        return (self.boat_sd**2 + self.boat_mean**2) / self.boat_mean


@dataclass(frozen=True)
class SeedHistory:
    """Expected persons and reports per day for each seeded crossing, for any date."""

    crossings: dict[str, CrossingSeed]
    monthly: dict[str, dict[tuple[int, int], int]]  # Frontex route -> (year, month) -> persons
    operator: dict[str, dict[int, tuple[float, float | None]]] = field(default_factory=dict)
    # Every baseline reads some 150 reference days; the seed of a day never changes.
    _cache: dict[tuple[str, int], tuple[float, float] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def daily(self, crossing: str, day: int) -> tuple[float, float] | None:
        """(persons, reports) expected on `day` at `crossing`; None when nothing seeds it."""
        key = (crossing, day)
        if key not in self._cache:
            if len(self._cache) >= MAX_CACHED_DAYS:
                self._cache.clear()
            self._cache[key] = self._daily(crossing, day)
        return self._cache[key]

    def _daily(self, crossing: str, day: int) -> tuple[float, float] | None:
        seed = self.crossings.get(crossing)
        own = self.operator.get(crossing)
        if own is not None and day in own:
            persons, reports = own[day]
            if reports is None:
                reports = persons / seed.boat_mean if seed else persons
            return persons, reports
        if seed is None:
            return None
        d = date_of(day)
        persons = (
            self._month(seed.route, d.year, d.month) * seed.share / calendar.monthrange(d.year, d.month)[1]
        )
        return persons, persons / seed.boat_mean

    def _month(self, route: str, year: int, month: int) -> float:
        figures = self.monthly.get(route, {})
        if (year, month) in figures:
            return float(figures[(year, month)])
        same_month = sorted((y for (y, m) in figures if m == month), reverse=True)
        recent = [y for y in same_month if y < year][:CLIMATOLOGY_YEARS] or same_month[-CLIMATOLOGY_YEARS:]
        return sum(figures[(y, month)] for y in recent) / len(recent) if recent else 0.0


def load_seed(sources: Path = SEED_SOURCES_DIR, operator_csv: Path | None = None) -> SeedHistory:
    """The bundled seed, plus an operator's daily history when given."""
    monthly: dict[str, dict[tuple[int, int], int]] = defaultdict(dict)
    for row in _rows(sources / "frontex_ibc_monthly_by_route.csv"):
        year, month = row["month"].split("-")
        monthly[row["route"]][(int(year), int(month))] = int(row["n"])
    boats = {r["frontex_route"]: (float(r["persons_mean"]), float(r["persons_sd"]))
             for r in _rows(sources / "boat_sizes.csv")}  # fmt: skip
    crossings = {
        r["crossing_id"]: CrossingSeed(r["frontex_route"], float(r["share"]), *boats[r["frontex_route"]])
        for r in _rows(sources / "crossing_shares.csv")
    }
    operator = load_operator_history(operator_csv) if operator_csv else {}
    return SeedHistory(crossings, dict(monthly), operator)


def load_operator_history(path: Path) -> dict[str, dict[int, tuple[float, float | None]]]:
    """An operator's CSV of daily counts: `date,crossing_id,persons[,reports]`, one row per day and crossing.

    Hostile until checked: size bounded, every value checked, the first bad
    line named. A day without `reports` gets none (0 boats is not assumed).
    """
    try:
        size = path.stat().st_size
        if size > MAX_HISTORY_BYTES:
            raise HistoryError(f"{path}: {size} bytes, more than the {MAX_HISTORY_BYTES} a history may have")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as error:
        raise HistoryError(f"cannot read history {str(path)!r}: {error}") from error
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"date", "crossing_id", "persons"} <= set(reader.fieldnames):
        raise HistoryError(
            f"{path}: the header must name date, crossing_id, persons (and optionally reports)"
        )
    history: dict[str, dict[int, tuple[float, float | None]]] = defaultdict(dict)
    for line, row in enumerate(reader, start=2):
        try:
            day = (date.fromisoformat(row["date"]) - EPOCH).days
            crossing = row["crossing_id"]
            persons = _count(row["persons"])
            reports = _count(row["reports"]) if row.get("reports") not in (None, "") else None
        except (ValueError, TypeError) as error:
            raise HistoryError(f"{path}, line {line}: {error}") from None
        if not crossing or not crossing.isprintable() or len(crossing) > 64:
            raise HistoryError(f"{path}, line {line}: crossing_id {crossing!r} is not an id")
        if day in history[crossing]:
            raise HistoryError(f"{path}, line {line}: a second row for {crossing} on {row['date']}")
        history[crossing][day] = (persons, reports)
    return dict(history)


def _count(text: str | None) -> float:
    value = int(str(text))
    if not 0 <= value <= MAX_DAILY_COUNT:
        raise ValueError(f"count {value} is outside 0..{MAX_DAILY_COUNT}")
    return float(value)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
