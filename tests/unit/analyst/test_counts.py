"""Counts with --since: a duration counts back from the newest report's event time, never the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from streams.analyst.counts import CountsFilter, newest_minute, run_counts
from streams.analyst.window import TimeWindow
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.migrations.runner import migrate


def test_since_counts_back_from_the_newest_report_of_a_sample_a_year_old(tmp_path: Path) -> None:
    client = connect(f"chdb://{tmp_path / 'chdb'}")
    migrate(client, "borderwatch")
    client.insert(
        "borderwatch.crossing_counts",
        [[datetime(2025, 4, 1, 10, tzinfo=UTC), "ES-CEUTA-LAND", "Western Mediterranean", "other", 1, 5],
         [datetime(2025, 3, 25, 10, tzinfo=UTC), "ES-CEUTA-LAND", "Western Mediterranean", "other", 1, 7],
         [datetime(2025, 3, 1, 10, tzinfo=UTC), "ES-CEUTA-LAND", "Western Mediterranean", "other", 1, 11]],
        column_names=["minute", "crossing_id", "route", "incident_type", "reports", "persons"],
    )  # fmt: skip
    window = TimeWindow.parse("7d", None).resolve(newest_minute(client, "borderwatch"))
    week = run_counts(client, "borderwatch", CountsFilter(start=window.start))
    assert [(r["reports"], r["persons"]) for r in week] == [(2, 12)]
    everything = run_counts(client, "borderwatch", CountsFilter())
    assert [(r["reports"], r["persons"]) for r in everything] == [(3, 23)]
    client.close()
