"""The surge evaluation's pure parts: background, episodes, reports on the wire, and scoring."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pytest

from geo.catalogue import load_catalogue
from schemas.events import ReportKind
from schemas.rejection import Rejected
from schemas.validate import validate_report
from scripts.evaluate_alerts import (
    EPISODES,
    TARGET_S,
    AlertState,
    Episode,
    Feed,
    Wave,
    arrivals,
    background,
    boat_sizes,
    build_feed,
    crossings,
    draw_sizes,
    episode_incidents,
    monthly_detections,
    render,
    score_alerts,
    split_persons,
    transplant,
)

YEAR, SEED = 2023, 7


@pytest.fixture(scope="module")
def feed() -> Feed:
    return build_feed(YEAR, SEED)


def test_background_hits_the_monthly_volumes() -> None:
    places, detections = crossings(), monthly_detections(YEAR)
    incidents = background(YEAR, detections, places, boat_sizes(), np.random.default_rng(SEED))
    route_of = {c.crossing_id: c.route for c in places}
    persons: dict[tuple[str, int], int] = defaultdict(int)
    for i in incidents:
        assert i.observed_at.year == YEAR and i.persons >= 1
        persons[(route_of[i.crossing_id], i.observed_at.month)] += i.persons
    shares: dict[str, float] = defaultdict(float)
    for c in places:
        shares[c.route] += c.share
    for route, share in shares.items():
        for month in range(1, 13):
            expected = detections[(route, month)] * share
            # Each crossing's month is rounded to whole persons; nothing else moves the total.
            assert abs(persons[(route, month)] - expected) <= 0.01 * expected + len(places), (route, month)


def test_background_days_cluster_with_the_weather() -> None:
    places = [c for c in crossings() if c.crossing_id == "IT-LAMPEDUSA"]
    incidents = background(YEAR, monthly_detections(YEAR), places, boat_sizes(), np.random.default_rng(SEED))
    per_day = Counter(i.observed_at.date() for i in incidents)
    counts = np.array([per_day.get(datetime(YEAR, 1, 1).date() + timedelta(days=d), 0) for d in range(365)])
    # A flat Poisson rate has variance = mean (within a month); weather makes it several times larger.
    assert counts.var() > 3 * counts.mean()
    assert (counts == 0).sum() > 10 and counts.max() >= 4 * counts.mean()


def test_boat_sizes_follow_the_route() -> None:
    rng = np.random.default_rng(SEED)
    sizes = draw_sizes(100_000, 65, 40, rng)
    assert sum(sizes) == 100_000 and min(sizes) >= 1
    assert 60 < float(np.mean(sizes)) < 70 and 35 < float(np.std(sizes)) < 45
    split = split_persons(5112, 110, 45, 40, rng)
    assert len(split) == 110 and sum(split) == 5112 and min(split) >= 1


def test_reports_are_valid_and_in_arrival_order(feed: Feed) -> None:
    known = load_catalogue().crossing_ids
    now = datetime.now(UTC)
    reported = [r["reported_at"] for r in feed.reports]
    assert reported == sorted(reported)
    assert len({(r["authority"], r["report_id"]) for r in feed.reports}) == len(feed.reports)
    for report in feed.reports:
        result = validate_report(orjson.dumps(report), ReportKind.INTERCEPTION, now, known)
        assert not isinstance(result, Rejected), (report, result)
        delay = datetime.fromisoformat(report["reported_at"]) - datetime.fromisoformat(report["observed_at"])
        assert timedelta(minutes=15) <= delay <= timedelta(hours=20)
        land = report["crossing_id"].endswith("-LAND")
        assert report["incident_type"] == ("irregular_crossing_attempt" if land else "interception_at_sea")


def test_most_reports_arrive_within_six_hours(feed: Feed) -> None:
    delays_h = [
        (datetime.fromisoformat(r["reported_at"]) - datetime.fromisoformat(r["observed_at"])).total_seconds()
        / 3600
        for r in feed.reports
    ]
    within = sum(1 <= d <= 6 for d in delays_h) / len(delays_h)
    assert 0.75 < within < 0.95 and max(delays_h) > 15


def test_same_seed_same_reports() -> None:
    assert build_feed(YEAR, SEED).reports == build_feed(YEAR, SEED).reports
    assert build_feed(YEAR, SEED).reports != build_feed(YEAR, SEED + 1).reports


def test_episodes_carry_their_figures(feed: Feed) -> None:
    placed = {e.key: e for e in feed.episodes}
    assert len(placed) == len(EPISODES) >= 4
    for original in EPISODES:
        e = placed[original.key]
        assert e.sources and all("http" in s for s in e.sources) and e.assumptions
        assert e.onset.year == YEAR and e.end - e.onset == original.end - original.onset
        if (original.onset.month, original.onset.day) != (2, 29):
            assert (e.onset.month, e.onset.day, e.onset.time()) == (
                original.onset.month, original.onset.day, original.onset.time()
            )  # fmt: skip
    assert placed["evros-2020-02"].onset == datetime(YEAR, 3, 1, 4, tzinfo=UTC)
    extra = [r for r in feed.reports if r["report_id"].rsplit("-", 1)[-1].startswith("EP")]
    assert sum(r["persons"] for r in extra) == sum(e.persons for e in EPISODES)


def test_episode_waves_expand_to_their_boats() -> None:
    lampedusa = next(e for e in EPISODES if e.key == "lampedusa-2023-09")
    incidents = episode_incidents(
        lampedusa, "Central Mediterranean Route", boat_sizes(), np.random.default_rng(1)
    )
    assert len(incidents) == 51 + 110 + 23 and sum(i.persons for i in incidents) == 1900 + 5112 + 1000
    assert all(lampedusa.onset <= i.observed_at < lampedusa.end for i in incidents)
    hierro = next(e for e in EPISODES if e.key == "el-hierro-2023-10-21")
    boats = episode_incidents(hierro, "Western African Route", boat_sizes(), np.random.default_rng(1))
    assert sorted(i.persons for i in boats) == [121, 160, 212, 320]


def test_an_episode_of_the_background_year_is_taken_out_of_its_month(feed: Feed) -> None:
    lampedusa = next(c for c in crossings() if c.crossing_id == "IT-LAMPEDUSA")
    september = [
        r for r in feed.reports
        if r["crossing_id"] == "IT-LAMPEDUSA" and r["observed_at"].startswith(f"{YEAR}-09")
    ]  # fmt: skip
    expected = round(monthly_detections(YEAR)[(lampedusa.route, 9)] * lampedusa.share)
    assert sum(r["persons"] for r in september) == expected  # background minus the episode, plus the episode


def test_transplant_keeps_the_calendar_day() -> None:
    wave = Wave(datetime(2020, 2, 29, 4, tzinfo=UTC), 84, 100)
    moved = transplant(Episode("x", "x", "GR-EVROS-LAND", (), "", (wave,)), 2023)
    assert moved.onset == datetime(2023, 3, 1, 4, tzinfo=UTC) and moved.end == moved.onset + timedelta(
        hours=84
    )
    ceuta = Episode("y", "y", "ES-CEUTA-LAND", (), "", (Wave(datetime(2021, 5, 17, tzinfo=UTC), 36, 1),))
    kept = transplant(ceuta, 2024)
    assert kept.onset == datetime(2024, 5, 17, tzinfo=UTC)


# --- scoring ------------------------------------------------------------------------------------------

ONSET = datetime(2023, 6, 24, 4, 45, tzinfo=UTC)
EPISODE = Episode("m", "Melilla", "ES-MELILLA-LAND", ("https://example.org",), "", (Wave(ONSET, 2, 2000),))


def _ts(hours: float) -> float:
    return (ONSET + timedelta(hours=hours)).timestamp()


def _state(alert_id: str, version: int, impact: str, start_h: float, end_h: float, evidence: tuple[str, ...],
           zone: str = "ES-MELILLA-LAND", kind: str = "mass_attempt") -> AlertState:  # fmt: skip
    return AlertState(alert_id, version, kind, impact, zone, _ts(start_h), _ts(end_h), evidence)


ARRIVALS = {"ES-GC:a": _ts(1.0), "ES-GC:b": _ts(2.5), "ES-GC:c": _ts(7.0), "ES-GC:d": _ts(24 * 40)}


def test_an_alert_inside_the_episode_catches_it() -> None:
    states = [
        _state("mass:1", 1, "medium", 0.2, 0.4, ("ES-GC:a",)),
        _state("mass:1", 2, "very_high", 0.2, 1.0, ("ES-GC:a", "ES-GC:b")),
    ]
    score = score_alerts(states, [EPISODE], ARRIVALS)
    (result,) = score.episodes
    assert result.caught and result.impact == "very_high" and result.alert_ids == ["mass:1"]
    assert result.first_alert_s == pytest.approx(3600) and result.first_high_s == pytest.approx(2.5 * 3600)
    assert score.caught == 1 and score.false_per_month == 0.0


def test_high_too_late_is_not_caught() -> None:
    states = [_state("surge:1", 1, "high", 0.0, 6.0, ("ES-GC:c",), kind="surge")]
    (result,) = score_alerts(states, [EPISODE], ARRIVALS).episodes
    assert result.first_high_s == pytest.approx(7 * 3600)
    assert TARGET_S < 7 * 3600 and not result.caught


def test_an_alert_outside_every_episode_is_false_once_per_id() -> None:
    states = [
        _state("surge:far", v, "high", 24 * 40, 24 * 40 + 1, ("ES-GC:d",), kind="surge") for v in (1, 2, 3)
    ] + [
        _state("surge:elsewhere", 1, "low", 0.0, 1.0, ("ES-GC:a",), zone="ES-CEUTA-LAND", kind="surge"),
        _state("surge:near", 1, "low", 10.0, 11.0, (), kind="surge"),  # within the 24 h margin: not false
        _state("gap:1", 1, "high", 24 * 40, 24 * 41, (), kind="ais_gap"),  # not a surge kind
    ]
    score = score_alerts(states, [EPISODE], ARRIVALS, months=12)
    assert score.false_ids == {"ES-MELILLA-LAND": ["surge:far"], "ES-CEUTA-LAND": ["surge:elsewhere"]}
    assert score.false_per_month == pytest.approx(2 / 12)
    (result,) = score.episodes
    assert not result.caught and result.alert_ids == []


def test_the_last_line_is_the_summary() -> None:
    states = [_state("mass:1", 1, "high", 0.5, 1.0, ("ES-GC:a",))]
    score = score_alerts(states, [EPISODE], ARRIVALS)
    lines = render(score, ["ES-CEUTA-LAND", "ES-MELILLA-LAND"])
    assert lines[-1] == "episodes caught: 1/1, false surges per month: 0.0"
    assert any("6 h target met" in line for line in lines)


def test_arrivals_are_keyed_like_event_ids() -> None:
    report = {"authority": "ES-GC", "report_id": "X-1", "reported_at": "2023-01-01T00:00:00Z"}
    assert arrivals([report]) == {"ES-GC:X-1": datetime(2023, 1, 1, tzinfo=UTC).timestamp()}
