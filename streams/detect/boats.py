"""Detect stage: a boat far larger than a crossing's typical one is a signal of its own.

A cayuco of 300 where the month's boats carry 60 says more than the day's count:
the count of boats stays ordinary (El Hierro, October 2023: cayucos of 271 and
320, the largest on record, on days of three and four boats).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from schemas.alerts import AlertKind, Impact
from streams.detect import tails
from streams.detect.findings import Finding
from streams.detect.seed import day_of

if TYPE_CHECKING:
    from streams.detect.crossings import CrossingContext, CrossingHistory, Sighting


def large_boats(
    crossing: str, route: str, sightings: list[Sighting], history: CrossingHistory, ctx: CrossingContext
) -> list[Finding]:
    """A boat far larger than the crossing's typical one (a cayuco of 300 where boats carry 60).

    Typical: persons per boat over the crossing's recent learned days (at least
    LEARNED_BOATS of them), else the route's mean from the seed. Large: at least
    `large_boat_ratio` times it and `large_boat_excess` persons above it, and as
    rare as `large_boat_p` for a gamma of the route's relative spread scaled to
    that size. Medium, or high at the second level.
    """
    t = ctx.thresholds
    findings = []
    for s in sightings:
        typical, basis = typical_boat(crossing, day_of(s.ts), history, ctx)
        if s.persons - typical < t.large_boat_excess or not any(
            s.persons >= r * typical for r in t.large_boat_ratio
        ):
            continue  # no level however rare: the tail (a scipy call) is not needed
        seed = ctx.baselines.seed.crossings.get(crossing)
        cv = seed.boat_sd / seed.boat_mean if seed else 0.67
        shape = 1 / (cv * cv)
        tail = float(tails.gamma_sf(s.persons, shape, typical / shape))
        level = sum(
            1
            for ratio, p in zip(t.large_boat_ratio, t.large_boat_p)
            if s.persons >= ratio * typical and tail <= p
        )
        if level == 0 or s.persons - typical < t.large_boat_excess:
            continue
        impact = (Impact.MEDIUM, Impact.HIGH)[level - 1]
        findings.append(
            Finding(
                AlertKind.LARGE_BOAT, crossing, ts=s.ts, impact=impact, confidence=min(0.99, 1 - tail),
                zone_id=crossing, route=route, start_ts=s.ts, event_ids=(s.event_id,),
                detail=f"a boat of {s.persons:,} persons at {crossing} ({when(s.ts)}), "
                f"{s.persons / typical:.1f} times the {typical:.0f} per boat of {basis}; "
                f"{impact.value} as a boat this size has tail probability {tail:.1e}",
                facts={"persons": s.persons, "typical": typical, "tail_probability": tail,
                       "reported_at": s.reported},
            )
        )  # fmt: skip
    return findings


LEARNED_BOATS = 20


def typical_boat(
    crossing: str, day: int, history: CrossingHistory, ctx: CrossingContext
) -> tuple[float, str]:
    """Persons per boat at the crossing over its recent learned days, else the route's mean (seed)."""
    t = ctx.thresholds
    last = day - t.surge_guard_days
    first = last - t.surge_recent_days
    persons = reports = 0
    for d, count in history.days.items():
        if first <= d < last:
            persons += count.persons
            reports += count.reports
    if reports >= LEARNED_BOATS:
        return persons / reports, f"the {t.surge_recent_days} days before"
    seed = ctx.baselines.seed.crossings.get(crossing)
    return (seed.boat_mean, "the route") if seed else (30.0, "no history")


def when(ts: float) -> str:
    """A time as alerts write it."""
    return datetime.fromtimestamp(ts, UTC).strftime("%d %b %Y %H:%M UTC")
