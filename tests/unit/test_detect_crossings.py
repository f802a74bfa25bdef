"""Surge and mass-attempt detectors on hand-computed windows."""

from __future__ import annotations

import math

from schemas.alerts import AlertKind, Impact
from streams.detect.crossings import CrossingState, detect_crossing, surge_impact
from streams.detect.thresholds import Thresholds

T = Thresholds()
HOUR = 3600.0
T0 = 1_760_000_400.0 - 1_760_000_400.0 % HOUR  # a window start


def sightings(*rows: tuple[float, int], kind: str = "sea_sector") -> list[tuple[str, float, int, str, str]]:
    return [
        (f"A:{ts}:{n}", ts, persons, kind, "Central Mediterranean") for n, (ts, persons) in enumerate(rows)
    ]


def test_surge_impact_levels_at_their_boundaries() -> None:
    # prior mean 2, variance 25: z = (persons - 2) / 5
    assert surge_impact(49, 2.0, 25.0, T) is None  # below the minimum persons
    assert surge_impact(50, 2.0, 25.0, T) == (Impact.HIGH, 9.6)
    assert surge_impact(62, 2.0, 25.0, T) == (Impact.VERY_HIGH, 12.0)
    assert surge_impact(61.99, 2.0, 25.0, T)[0] is Impact.HIGH  # type: ignore[index]
    assert surge_impact(50, 35.0, 25.0, T) == (Impact.LOW, 3.0)
    assert surge_impact(50, 35.1, 25.0, T) is None  # z just below 3


def test_surge_fires_in_its_window_and_resolves_when_the_window_closes() -> None:
    out = detect_crossing("IT-LAMPEDUSA", sightings((T0 + 60, 30), (T0 + 120, 25)), None, T0, T)
    (surge,) = out.findings
    assert (surge.kind, surge.active, surge.impact, surge.start_ts) == (
        AlertKind.SURGE,
        True,
        Impact.HIGH,
        T0,
    )
    assert surge.facts["persons"] == 55
    # The watermark passes the window's end: the surge is over and the baseline learned 55.
    later = detect_crossing("IT-LAMPEDUSA", [], out.state, T0 + HOUR, T)
    assert [(f.kind, f.active) for f in later.findings] == [(AlertKind.SURGE, False)]
    slot = int(T0 // HOUR) % 168
    assert later.state.mean[slot] == 2.0 + 0.1 * 53
    assert later.state.var[slot] == 0.9 * (25.0 + 0.1 * 53 * 53)


def test_late_report_within_lateness_lands_in_its_window_and_too_late_is_counted() -> None:
    out = detect_crossing("X", sightings((T0 + 60, 30)), None, T0, T)
    assert out.findings == []
    # 40 more persons observed in the same window but arriving later: still a surge of 70.
    # The clock is half an hour on, so the watermark is half an hour before T0.
    late = detect_crossing("X", sightings((T0 + 90, 40)), out.state, T0 + 30 * 60 - T.allowed_lateness_s, T)
    assert [f.facts["persons"] for f in late.findings] == [70]
    too_late = detect_crossing(
        "X", sightings((T0 + 100, 40)), late.state, T0 + 2 * HOUR - T.allowed_lateness_s, T
    )
    assert too_late.too_late == 1


def test_a_replayed_report_is_counted_once() -> None:
    rows = sightings((T0 + 60, 30))
    out = detect_crossing("X", rows, None, T0, T)
    again = detect_crossing("X", rows, out.state, T0, T)
    assert again.state.minutes[int((T0 + 60) // 60) * 60][0] == 30


def test_mass_attempt_needs_100_persons_within_10_minutes_at_a_fence() -> None:
    almost = sightings((T0, 60), (T0 + 600, 40), kind="fence_section")  # 10 min apart: two windows
    out = detect_crossing("ES-CEUTA-LAND", almost, None, T0, T)
    assert [f for f in out.findings if f.kind is AlertKind.MASS_ATTEMPT] == []
    enough = sightings((T0, 60), (T0 + 540, 40), kind="fence_section")
    out = detect_crossing("ES-CEUTA-LAND", enough, None, T0, T)
    (mass,) = [f for f in out.findings if f.kind is AlertKind.MASS_ATTEMPT]
    assert (mass.facts["persons"], mass.impact) == (100, Impact.HIGH)
    sea = detect_crossing("IT-LAMPEDUSA", sightings((T0, 60), (T0 + 540, 40)), None, T0, T)
    assert [f for f in sea.findings if f.kind is AlertKind.MASS_ATTEMPT] == []


def test_state_round_trips_through_json() -> None:
    out = detect_crossing("X", sightings((T0 + 60, 30)), None, T0, T)
    back = CrossingState.from_json(out.state.to_json())
    assert back == out.state
    assert not math.isnan(back.closed_until)


def test_a_window_that_surges_and_closes_in_one_batch_is_reported_then_resolved() -> None:
    out = detect_crossing("X", sightings((T0 + 60, 60)), None, T0, T, close_until=T0 + HOUR)
    assert [(f.kind, f.active) for f in out.findings] == [(AlertKind.SURGE, True), (AlertKind.SURGE, False)]
    assert out.state.surging == []
