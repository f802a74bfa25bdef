"""The cold-start prior: Frontex figures spread to crossings, and an operator's own history."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from schemas.alerts import Impact
from streams.detect.baseline import Baselines
from streams.detect.crossings import CrossingContext, Sighting, detect_crossing
from streams.detect.seed import EPOCH, HistoryError, load_operator_history, load_seed
from streams.detect.thresholds import Thresholds

T = Thresholds()
SEED = load_seed()


def day_number(d: date) -> int:
    return (d - EPOCH).days


def highest_impact(crossing: str, day: date, boats: int, persons: int, seed: object = SEED) -> Impact | None:
    """A fresh install sees `boats` boats of `persons` spread over one day; the highest surge it raises."""
    ctx = CrossingContext(T, Baselines(seed, T))  # type: ignore[arg-type]
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    state, history, watermark, impacts = None, None, float("-inf"), []
    for n in range(boats):
        ts = start + n * 86400 / boats
        out = detect_crossing(crossing, "sea_sector", "r", [Sighting(f"X:{n}", ts, persons, ts)], state,
                              history, watermark, ts, ctx)  # fmt: skip
        state, history, watermark = out.state, out.history, ts - T.allowed_lateness_s
        impacts += [f.impact for f in out.findings]
    return max(impacts, key=lambda i: i.rank) if impacts else None


@pytest.mark.parametrize(
    ("crossing", "day", "boats", "persons"),
    [
        ("ES-GRAN-CANARIA", date(2026, 10, 14), 3, 50),  # 150 persons in a day in October
        ("ES-GRAN-CANARIA", date(2024, 10, 14), 3, 50),  # also in a year the figures cover
        ("IT-LAMPEDUSA", date(2026, 8, 14), 20, 40),  # 800 in a day in August
        ("GR-LESVOS", date(2026, 9, 14), 10, 30),
        ("ES-ALMERIA-MURCIA", date(2026, 9, 14), 4, 13),
    ],
)
def test_ordinary_days_for_the_season_are_normal_on_day_one(
    crossing: str, day: date, boats: int, persons: int
) -> None:
    assert highest_impact(crossing, day, boats, persons) is None


def test_5000_in_a_day_at_lampedusa_is_a_very_high_surge_on_day_one() -> None:
    assert highest_impact("IT-LAMPEDUSA", date(2026, 9, 12), 110, 46) is Impact.VERY_HIGH


def test_the_season_matters_800_in_a_january_day_at_lampedusa_is_unusual() -> None:
    assert highest_impact("IT-LAMPEDUSA", date(2026, 1, 14), 20, 40) is not None
    assert highest_impact("IT-LAMPEDUSA", date(2026, 8, 14), 20, 40) is None


def test_route_figures_are_spread_by_their_shares() -> None:
    september = [day_number(date(2023, 9, d)) for d in range(1, 31)]
    lampedusa = sum(SEED.daily("IT-LAMPEDUSA", d)[0] for d in september)  # type: ignore[index]
    route = SEED.monthly["Central Mediterranean Route"][(2023, 9)]
    assert lampedusa == pytest.approx(route * SEED.crossings["IT-LAMPEDUSA"].share)
    persons, boats = SEED.daily("ES-GRAN-CANARIA", september[0])  # type: ignore[misc]
    assert boats == pytest.approx(persons / 65)  # the route's mean boat size
    assert SEED.daily("XX-NOWHERE", september[0]) is None


def test_a_month_after_the_figures_end_gets_the_same_month_of_recent_years() -> None:
    routes = SEED.monthly["Western African Route"]
    expected = sum(routes[(y, 10)] for y in (2022, 2023, 2024)) / 3
    day = day_number(date(2026, 10, 1))
    share = SEED.crossings["ES-EL-HIERRO"].share
    assert SEED.daily("ES-EL-HIERRO", day)[0] == pytest.approx(expected * share / 31)  # type: ignore[index]


def test_an_operators_history_overrides_the_seed(tmp_path: Path) -> None:
    csv = tmp_path / "history.csv"
    csv.write_text(
        "date,crossing_id,persons,reports\n2026-09-12,IT-LAMPEDUSA,5000,110\n2026-09-13,XX-NEW,7,\n"
    )
    seed = load_seed(operator_csv=csv)
    assert seed.daily("IT-LAMPEDUSA", day_number(date(2026, 9, 12))) == (5000.0, 110.0)
    assert seed.daily("XX-NEW", day_number(date(2026, 9, 13))) == (7.0, 7.0)  # no boat size known: 1 a report
    assert seed.daily("IT-LAMPEDUSA", day_number(date(2026, 9, 14))) == SEED.daily(
        "IT-LAMPEDUSA", day_number(date(2026, 9, 14))
    )


def test_a_busy_history_makes_a_busy_day_normal(tmp_path: Path) -> None:
    rows = [f"2026-{m:02d}-{d:02d},ES-GRAN-CANARIA,1500,25" for m in (8, 9, 10) for d in range(1, 29)]
    rows += [f"{y}-{m:02d}-{d:02d},ES-GRAN-CANARIA,1500,25" for y in (2023, 2024, 2025) for m in (9, 10, 11)
             for d in range(1, 29)]  # fmt: skip
    csv = tmp_path / "history.csv"
    csv.write_text("date,crossing_id,persons,reports\n" + "\n".join(rows) + "\n")
    assert highest_impact("ES-GRAN-CANARIA", date(2026, 10, 14), 25, 60) is not None
    assert highest_impact("ES-GRAN-CANARIA", date(2026, 10, 14), 10, 70, load_seed(operator_csv=csv)) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("day,crossing\n", "header"),
        ("date,crossing_id,persons\n2026-13-01,IT-LAMPEDUSA,5\n", "line 2"),
        ("date,crossing_id,persons\n2026-01-01,IT-LAMPEDUSA,-5\n", "line 2"),
        (
            "date,crossing_id,persons\n2026-01-01,IT-LAMPEDUSA,5\n2026-01-01,IT-LAMPEDUSA,6\n",
            "line 3: a second row",
        ),
        ("date,crossing_id,persons\n2026-01-01,IT\x1bLAMPEDUSA,5\n", "is not an id"),
        ("date,crossing_id,persons\n2026-01-01,IT-LAMPEDUSA,99999999999\n", "outside"),
        ("date,crossing_id,persons\n2026-01-01,IT-LAMPEDUSA,1e3\n", "line 2"),
    ],
)
def test_a_bad_history_file_is_refused_with_its_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "history.csv"
    path.write_text(text)
    with pytest.raises(HistoryError, match=message):
        load_operator_history(path)


def test_a_history_file_that_is_not_text_or_too_big_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(HistoryError, match="cannot read"):
        load_operator_history(path)
    with pytest.raises(HistoryError, match="cannot read"):
        load_operator_history(tmp_path / "missing.csv")
