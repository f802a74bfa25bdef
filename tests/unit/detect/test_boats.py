"""Impact by size, and a boat far larger than a crossing's typical one as a signal of its own."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.alerts import AlertKind, Impact
from streams.detect.baseline import Baselines
from streams.detect.crossings import CrossingContext, CrossingHistory, DayCount, Sighting, size_impact
from streams.detect.crossings import detect_crossing as judge
from streams.detect.seed import day_of, load_seed
from streams.detect.thresholds import Thresholds

T = Thresholds()
CTX = CrossingContext(T, Baselines(load_seed(), T))
T0 = datetime(2026, 10, 21, tzinfo=UTC).timestamp()


def test_lampedusas_second_day_is_very_high_by_its_size() -> None:
    # 5,112 persons on 110 boats where 348 persons and 8.5 boats are expected (EFE, 13 Sep 2023).
    assert size_impact((5_112, 110), (348.0, 8.5), T) is Impact.VERY_HIGH
    # The same ratio on a handful of persons is no bigger than rare: low.
    assert size_impact((30, 3), (2.0, 0.2), T) is Impact.LOW
    # Twice the expected and 100 persons above it: medium; three times and 250 above: high.
    assert size_impact((200, 4), (100.0, 4.0), T) is Impact.MEDIUM
    assert size_impact((400, 4), (130.0, 4.0), T) is Impact.HIGH
    # Boats alone can carry it: 30 boats where 4 are expected.
    assert size_impact((90, 30), (80.0, 4.0), T) is Impact.VERY_HIGH


def history_of_boats(size: int) -> CrossingHistory:
    """Four weeks of two boats a day of `size` persons each, learned."""
    today = day_of(T0)
    return CrossingHistory(today - 40, today, {d: DayCount(2 * size, 2) for d in range(today - 40, today)})


def boat(n: int, persons: int) -> Sighting:
    return Sighting(f"ES:{n}", T0 + n * 600, persons, T0 + n * 600 + 3600)


def test_a_cayuco_of_320_where_boats_carry_60_raises_a_large_boat_alert_and_says_why() -> None:
    out = judge(
        "ES-EL-HIERRO", "sea_sector", "Western African", [boat(1, 60), boat(2, 320)], None,
        history_of_boats(60), T0 - 3600, T0 + 1200, CTX,
    )  # fmt: skip
    (large,) = [f for f in out.findings if f.kind is AlertKind.LARGE_BOAT]
    assert large.impact.rank >= Impact.MEDIUM.rank and large.event_ids == ("ES:2",)
    assert "a boat of 320 persons" in large.detail and "5.3 times the 60 per boat" in large.detail


def test_an_ordinary_boat_or_a_fence_group_is_no_large_boat() -> None:
    out = judge(
        "ES-EL-HIERRO", "sea_sector", "Western African", [boat(1, 120)], None,
        history_of_boats(60), T0 - 3600, T0 + 1200, CTX,
    )  # fmt: skip
    assert not [f for f in out.findings if f.kind is AlertKind.LARGE_BOAT]
    fence = judge(
        "ES-CEUTA-LAND", "fence_section", "Western Mediterranean", [boat(1, 320)], None,
        history_of_boats(10), T0 - 3600, T0 + 1200, CTX,
    )  # fmt: skip
    assert not [f for f in fence.findings if f.kind is AlertKind.LARGE_BOAT]
