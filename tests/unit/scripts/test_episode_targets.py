"""The evaluation's targets: at least medium within 6 h of the first wave, high within 6 h of the largest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scripts.evaluate_alerts import AlertState, Episode, Wave, episode_table, score_alerts

FIRST = datetime(2023, 9, 10, 22, tzinfo=UTC)
LARGEST = FIRST + timedelta(hours=24)
LAMPEDUSA = Episode(
    "l", "Lampedusa", "IT-LAMPEDUSA", (), "",
    (Wave(FIRST, 24, 1900, boats=51), Wave(LARGEST, 24, 5112, boats=110),
     Wave(LARGEST + timedelta(hours=24), 8, 1000)),
)  # fmt: skip


def _at(hours: float) -> float:
    return (FIRST + timedelta(hours=hours)).timestamp()


def _surge(version: int, impact: str, evidence: str) -> AlertState:
    return AlertState("surge:1", version, "surge", impact, "IT-LAMPEDUSA", _at(0), _at(30), (evidence,))


def test_the_largest_wave_is_the_one_with_most_persons() -> None:
    assert LAMPEDUSA.onset == FIRST and LAMPEDUSA.largest_onset == LARGEST


def test_medium_early_and_high_within_six_hours_of_the_largest_wave_is_caught() -> None:
    arrivals = {"a": _at(5), "b": _at(24 + 5.5)}
    (r,) = score_alerts(
        [_surge(1, "medium", "a"), _surge(2, "very_high", "b")], [LAMPEDUSA], arrivals
    ).episodes
    assert r.first_medium_s == 5 * 3600 and r.high_after_largest_s == 5.5 * 3600
    assert r.medium_met and r.high_met and r.caught


def test_high_late_after_the_largest_wave_or_medium_late_after_the_first_is_missed() -> None:
    arrivals = {"a": _at(7), "b": _at(24 + 7)}
    (r,) = score_alerts([_surge(1, "medium", "a"), _surge(2, "high", "b")], [LAMPEDUSA], arrivals).episodes
    assert not r.medium_met and not r.high_met and not r.caught
    table = episode_table(score_alerts([_surge(1, "medium", "a")], [LAMPEDUSA], arrivals))
    assert (
        "| Lampedusa | 2023-09-10T22:00:00Z | 2023-09-11T22:00:00Z | +420 min | never | medium "
        "| no (medium, high) |" in table
    )


def test_high_before_the_largest_wave_meets_its_target() -> None:
    (r,) = score_alerts([_surge(1, "high", "a")], [LAMPEDUSA], {"a": _at(4)}).episodes
    assert r.high_after_largest_s == -20 * 3600 and r.caught
