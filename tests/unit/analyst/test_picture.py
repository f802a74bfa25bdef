"""The live picture's pure shaping (streams/analyst/picture.py): tracks cut at AIS gaps, section impacts,
windows, and reporting health merged with rejections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streams.analyst.picture import Fix, Window, cut_track, live_window, merge_rejects, section_impacts

T0 = datetime(2025, 4, 28, 1, 0, tzinfo=UTC)


def test_a_silence_of_the_gap_or_more_is_a_dark_stretch_between_lit_ones() -> None:
    fixes = [Fix(T0 + timedelta(hours=h), 36.0, -5.0 + h / 10) for h in (0, 1, 2, 9, 10)]
    stretches = cut_track(fixes, timedelta(hours=6))
    assert [(s.dark, len(s.points)) for s in stretches] == [(False, 3), (True, 2), (False, 2)]
    assert stretches[1].start == T0 + timedelta(hours=2) and stretches[1].end == T0 + timedelta(hours=9)
    assert [s.dark for s in cut_track(fixes, timedelta(hours=8))] == [False]


def test_each_section_shows_the_highest_impact_of_its_open_alerts() -> None:
    found = section_impacts([
        ("IT-LAMPEDUSA", "Central Mediterranean", "medium"),
        ("IT-LAMPEDUSA", "Central Mediterranean", "very_high"),
        ("", "Western Mediterranean", "high"), ("ES-CEUTA-LAND", "", "low"),
    ])  # fmt: skip
    assert found == {
        "zones": {"ES-CEUTA-LAND": "low", "IT-LAMPEDUSA": "very_high"},
        "routes": {"Central Mediterranean": "very_high", "Western Mediterranean": "high"},
    }


def test_now_is_the_newest_event_and_a_window_refuses_nonsense() -> None:
    window = live_window(T0 + timedelta(minutes=30, seconds=15), 6 * 3600)
    assert window.end == T0 + timedelta(minutes=31) and window.start == window.end - timedelta(hours=6)
    assert Window(T0, T0 + timedelta(days=7)).bucket_s == 3600
    with pytest.raises(ValueError, match="before it starts"):
        Window(T0, T0)
    with pytest.raises(ValueError, match="offset"):
        Window(T0.replace(tzinfo=None), T0)


def test_rejections_join_their_authority_and_an_unknown_one_gets_its_own_row() -> None:
    rows = merge_rejects(
        [{"authority": "ES-GC", "reports": 9}], [("ES-GC", "lat_out_of_range", 1), ("", "not_json", 2)]
    )
    by_name = {row["authority"]: row for row in rows}
    assert by_name["ES-GC"]["rejection_rate"] == pytest.approx(0.1)
    assert by_name["ES-GC"]["reasons"] == [{"reason": "lat_out_of_range", "count": 1}]
    assert by_name[""]["rejection_rate"] == 1.0 and by_name[""]["reports"] == 0
