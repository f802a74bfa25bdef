"""The size-graded rarity gate of surges: off by default, one setting to loosen it for large windows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas.alerts import AlertKind, Impact
from streams.detect.baseline import Baselines
from streams.detect.crossings import (
    CrossingContext,
    CrossingHistory,
    CrossingOutcome,
    CrossingState,
    Sighting,
    _gated_by_size,
    detect_crossing,
)
from streams.detect.findings import Finding
from streams.detect.seed import day_of, load_seed
from streams.detect.surge import window_tests
from streams.detect.thresholds import Thresholds

# Lampedusa's 24 h persons window on 11 Sep 2023 in the evaluation: 356 expected, dispersion 358.6.
(DAY,) = window_tests([356.0], [358.6], 0.25, Thresholds().surge_p, [50])
LOOSE = Thresholds(surge_gate_p_by_size=(1e-3, 1e-2))


def test_the_default_gate_is_rarity_alone() -> None:
    assert DAY.impact(1900) is None  # 1,900 persons (tail 5.8e-3): not rare at 1e-4
    assert not _gated_by_size(DAY, 1900, Impact.VERY_HIGH, Thresholds())


def test_a_looser_gate_opens_for_very_high_windows_only_down_to_its_probability() -> None:
    assert 1e-3 < DAY.probability(1900) <= 1e-2
    assert _gated_by_size(DAY, 1900, Impact.VERY_HIGH, LOOSE)
    assert not _gated_by_size(DAY, 1900, Impact.HIGH, LOOSE)  # high needs 1e-3
    assert not _gated_by_size(DAY, 1900, Impact.MEDIUM, LOOSE)
    assert not _gated_by_size(DAY, 1000, Impact.VERY_HIGH, LOOSE)  # tail 6.4e-2


@pytest.mark.parametrize("gate", [(1e-2, 1e-3), (0.0, 1e-2), (1e-3, 0.1)])
def test_the_gate_must_loosen_from_high_to_very_high_within_reason(gate: tuple[float, float]) -> None:
    with pytest.raises(ValidationError, match="surge_gate_p_by_size"):
        Thresholds(surge_gate_p_by_size=gate)


T = Thresholds()
CTX = CrossingContext(T, Baselines(load_seed(), T))
T0 = datetime(2026, 9, 12, tzinfo=UTC).timestamp()
HOUR = 3600.0
LATE = T.allowed_lateness_s


def run(
    rows: list[Sighting],
    stored: CrossingOutcome | None,
    watermark: float,
    now: float,
    kind: str = "sea_sector",
) -> CrossingOutcome:
    state, history = (stored.state, stored.history) if stored else (None, None)
    return detect_crossing(
        "IT-LAMPEDUSA", kind, "Central Mediterranean", rows, state, history, watermark, now, CTX
    )


def boats(
    first: int, count: int, start: float, every_s: float, persons: int, delay_s: float = 0
) -> list[Sighting]:
    return [
        Sighting(f"IT:{first + n}", start + n * every_s, persons, start + n * every_s + delay_s)
        for n in range(count)
    ]


def test_a_replayed_report_counts_once_and_one_older_than_the_watermark_is_too_late() -> None:
    out = run(boats(0, 1, T0 + 60, 0, 30), None, T0 - LATE, T0 + 60)
    out = run(boats(0, 1, T0 + 60, 0, 30), out, T0 - LATE, T0 + 60)  # the same report again
    assert (out.state.hours[int(T0)].persons, out.state.hours[int(T0)].reports) == (30, 1)
    late = run(boats(9, 1, T0 - LATE - 1, 0, 30), out, T0 + 60 - LATE, T0 + 60)
    assert late.too_late == 1


def test_a_report_a_day_late_still_lands_in_its_hour_and_can_raise_a_surge_after_the_fact() -> None:
    out = run([], None, T0 - LATE, T0)
    arrival = T0 + 23 * HOUR
    # 40 boats observed in the first two hours, all reported 21 to 23 hours later.
    rows = boats(0, 40, T0, 180, 45, delay_s=21 * HOUR)
    out = run(rows, out, arrival - LATE, arrival)
    assert out.too_late == 0
    surges = [f for f in out.findings if f.kind is AlertKind.SURGE]
    assert surges and max(f.impact.rank for f in surges) >= Impact.HIGH.rank
    early = min(surges, key=lambda f: f.ts)
    assert early.ts <= T0 + 6 * HOUR  # placed at the time of the events, not of the reports
    assert "reported late" in early.detail and "h after" in early.detail


def test_the_alert_says_why_observed_expected_upper_bound_window_comparison_threshold() -> None:
    out = run(boats(0, 110, T0, 86400 / 110, 46), None, T0 - LATE, T0 + 86400)
    strongest = max(out.findings, key=lambda f: (f.impact.rank, f.ts))
    assert strongest.impact is Impact.VERY_HIGH
    facts = strongest.facts
    assert facts["observed"] > facts["threshold"] >= facts["upper_bound"] > facts["expected"] > 0
    for words in (
        "at IT-LAMPEDUSA",
        "expected",
        "99% upper bound",
        "for ",
        "very high by size",
        "tail probability",
    ):
        assert words in strongest.detail


def test_whole_days_become_learned_history_and_take_over_from_the_seed() -> None:
    out = run(boats(0, 3, T0, HOUR, 20), None, T0 - LATE, T0 + 3 * HOUR)
    assert out.history.since == day_of(T0)  # first seen at midnight: that day is whole
    assert out.history.days == {}
    next_day = T0 + 86400 + LATE + HOUR  # the watermark has passed the end of the first day
    out = run([], out, next_day - LATE, next_day)
    assert out.history_changed
    assert out.history.days == {day_of(T0): (60, 3)}
    learned = out.history.learned()
    assert learned.get(day_of(T0)) == (60.0, 3.0)
    assert learned.get(day_of(T0) + 1) is None  # not whole yet
    out = run([], out, next_day + 86400 - LATE, next_day + 86400)
    assert out.history.learned().get(day_of(T0) + 1) == (0.0, 0.0)  # learned and quiet is zero, not the seed
    assert learned.get(day_of(T0) - 1) is None  # before the worker saw the crossing: the seed


def test_a_crossing_first_seen_mid_day_learns_from_the_next_whole_day() -> None:
    out = run(boats(0, 1, T0 + 14 * HOUR, 0, 20), None, T0 + 14 * HOUR - LATE, T0 + 14 * HOUR)
    assert out.history.since == day_of(T0) + 1


def test_state_and_history_round_trip_and_a_wrong_shape_is_refused() -> None:
    out = run(boats(0, 3, T0, 60, 20), None, T0 - LATE, T0 + 180)
    state = CrossingState.from_json(out.state.to_json())
    assert state == out.state
    assert CrossingHistory.from_json(out.history.to_json()) == out.history
    with pytest.raises((KeyError, TypeError, ValueError)):
        CrossingState.from_json({"closed_until": 0, "hours": [[1, 2]], "minutes": []})


def test_a_mass_attempt_is_100_persons_within_10_minutes_at_a_fence() -> None:
    almost = [Sighting("ES:1", T0, 60, T0), Sighting("ES:2", T0 + 600, 40, T0 + 600)]  # ten minutes apart
    out = run(almost, None, T0 - LATE, T0 + 600, kind="fence_section")
    assert [f for f in out.findings if f.kind is AlertKind.MASS_ATTEMPT] == []
    enough = [Sighting("ES:1", T0, 60, T0), Sighting("ES:2", T0 + 540, 40, T0 + 540)]
    out = run(enough, None, T0 - LATE, T0 + 540, kind="fence_section")
    (mass,) = [f for f in out.findings if f.kind is AlertKind.MASS_ATTEMPT]
    assert (mass.impact, mass.facts["persons"]) == (Impact.HIGH, 100)
    assert set(mass.event_ids) == {"ES:1", "ES:2"}


def test_a_week_long_window_does_not_keep_a_one_day_spike_alive() -> None:
    out = run(boats(0, 110, T0, 86400 / 110, 46), None, T0 - LATE, T0 + 86400)
    assert out.findings
    three_days_later = T0 + 4 * 86400
    quiet = run([], out, three_days_later - LATE, three_days_later)
    assert quiet.findings == []


def test_a_quiet_crossing_is_judged_once_an_hour_and_closes_its_hours_as_the_clock_moves() -> None:
    out = run(boats(0, 40, T0, 60, 45), None, T0 - LATE, T0 + 40 * 60)
    assert out.changed and out.findings  # 1,800 persons in 40 minutes
    again = run([], out, T0 - LATE, T0 + 50 * 60)  # a tick within the same hour: nothing to do
    assert not again.changed and again.findings == [] and again.state is out.state
    later = run([], again, T0 - LATE, T0 + 2 * HOUR)  # the next hour: its windows are judged again
    assert later.changed and later.state.judged == T0 + 2 * HOUR and later.findings
    closing = run([], later, T0 + HOUR, T0 + 2 * HOUR + 60)  # same hour, but the watermark passed an hour
    assert closing.changed and closing.state.closed_until == T0 + HOUR


# Lampedusa's 6 h window on 12 Sep from the seed: 78 persons and 1.7 boats expected; ten boats of 65
# (650 persons) have tails 6.9e-4 and 4.7e-4, neither rare at surge_p's 1e-4.
TOGETHER = boats(100, 10, T0 + HOUR, 600, 65)


def _surges_of(out: CrossingOutcome) -> list[Finding]:
    return [f for f in out.findings if f.kind is AlertKind.SURGE]


def test_persons_and_boats_rising_together_with_a_very_high_excess_are_a_surge() -> None:
    out = run(TOGETHER, None, T0 - LATE, T0 + 3 * HOUR)
    surges = _surges_of(out)
    assert surges and max(f.impact for f in surges) is Impact.VERY_HIGH
    joint = [f for f in surges if "persons and boats together" in f.detail]
    assert joint and all(f.facts["tail_probability"] > T.surge_p[0] for f in joint)
    assert "both at or below 2e-03" in joint[0].detail


def test_the_joint_gate_needs_both_counts_and_can_be_turned_off() -> None:
    # Four boats of 170: as many persons, very high by size, but four boats are ordinary (tail ~0.1).
    few_big = boats(200, 4, T0 + HOUR, 1800, 170)
    assert _surges_of(run(few_big, None, T0 - LATE, T0 + 3 * HOUR)) == []
    off = Thresholds(surge_gate_p_joint=T.surge_p[0])
    ctx = CrossingContext(off, Baselines(load_seed(), off))
    out = detect_crossing(
        "IT-LAMPEDUSA", "sea_sector", "Central Mediterranean", TOGETHER, None, None, T0 - LATE,
        T0 + 3 * HOUR, ctx,
    )  # fmt: skip
    assert _surges_of(out) == []


def test_the_joint_gate_stays_below_one_in_a_hundred() -> None:
    with pytest.raises(ValidationError, match="surge_gate_p_joint"):
        Thresholds(surge_gate_p_joint=0.05)
