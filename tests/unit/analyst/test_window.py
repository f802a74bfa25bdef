"""--since and --until: absolute ISO times or durations back from the newest event time, never the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from streams.analyst.window import TimeWindow, describe_window, parse_bound

NEWEST = datetime(2025, 4, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("2025-04-01", datetime(2025, 4, 1, tzinfo=UTC)),
        ("2025-04-01T06:00Z", datetime(2025, 4, 1, 6, tzinfo=UTC)),
        ("2025-04-01T06:00", datetime(2025, 4, 1, 6, tzinfo=UTC)),
        ("2025-04-01 08:00+02:00", datetime(2025, 4, 1, 6, tzinfo=UTC)),
    ],
)
def test_an_iso_time_is_absolute_and_utc_without_an_offset(text: str, at: datetime) -> None:
    bound = parse_bound(text)
    assert bound.at == at and bound.at.tzinfo is not None
    assert bound.back_s is None


def test_a_duration_counts_back_from_the_newest_event_not_the_clock() -> None:
    window = TimeWindow.parse("7d", "1d")
    resolved = window.resolve(NEWEST)
    assert resolved.start == NEWEST - timedelta(days=7)
    assert resolved.end == NEWEST - timedelta(days=1)
    assert resolved.newest == NEWEST


def test_absolute_and_duration_mix() -> None:
    resolved = TimeWindow.parse("2025-03-01", "2h").resolve(NEWEST)
    assert resolved.start == datetime(2025, 3, 1, tzinfo=UTC)
    assert resolved.end == datetime(2025, 4, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until", "says"),
    [
        ("yesterday", None, "--since 'yesterday' is neither a duration"),
        (None, "1x", "--until '1x' is neither a duration"),
        ("2025-04-02", "2025-04-01", "is not before --until"),
        ("1d", "7d", "must reach further back than --until"),
    ],
)
def test_a_bad_window_is_one_line_naming_the_option(since: str | None, until: str | None, says: str) -> None:
    with pytest.raises(ValueError, match=says) as raised:
        TimeWindow.parse(since, until)
    assert "\n" not in str(raised.value)


def test_the_description_says_the_window_and_what_it_counted_back_from() -> None:
    window = TimeWindow.parse("7d", None)
    text = describe_window(window, window.resolve(NEWEST), "report")
    assert text == (
        "window from 2025-03-25 10:00 on, UTC event time; --since 7d counted back from the newest report, "
        "2025-04-01 10:00, not from the clock"
    )
    both = TimeWindow.parse("2025-03-01", "2025-03-02T12:00+01:00")
    assert describe_window(both, both.resolve(None)) == (
        "window from 2025-03-01 00:00 to 2025-03-02 11:00 (the end excluded), UTC event time"
    )
    assert describe_window(TimeWindow(), TimeWindow().resolve(None)) == ""


def test_a_duration_without_data_is_an_empty_window() -> None:
    window = TimeWindow.parse("1h", None)
    resolved = window.resolve(None)
    assert window.empty_for_lack_of_data(resolved)
    assert "no alert yet" in describe_window(window, resolved, "alert")


def test_the_window_survives_the_api() -> None:
    from streams.analyst.window import ResolvedWindow

    resolved = TimeWindow.parse("1d", None).resolve(NEWEST.astimezone(timezone(timedelta(hours=2))))
    assert ResolvedWindow.from_json(resolved.as_json()) == resolved


def test_a_mixed_window_that_resolves_empty_says_so() -> None:
    window = TimeWindow.parse("2025-04-01", "1d")
    assert describe_window(window, window.resolve(NEWEST)).startswith(
        "window from 2025-04-01 00:00 to 2025-03-31 10:00 (the end excluded), UTC event time (empty: its"
    )
