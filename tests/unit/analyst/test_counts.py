"""Analyst query building and duration parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.analyst.counts import (
    CountsFilter,
    GroupBy,
    counts_query,
    newest_minute,
    parse_duration_s,
    run_counts,
)
from streams.analyst.window import TimeWindow
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.migrations.runner import migrate


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600),
                                               ("2d", 172800), ("1w", 604800)])  # fmt: skip
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "h", "1y", "-1h", "1.5h"])
def test_bad_durations_name_the_text(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text).replace("(", r"\(")):
        parse_duration_s(text)


def test_counts_query_groups_and_filters_with_parameters() -> None:
    start = datetime(2025, 4, 1, tzinfo=UTC)
    wanted = CountsFilter(GroupBy.CROSSING, start=start, route="Western African", crossing="ES-TENERIFE")
    sql, params = counts_query("borderwatch", wanted)
    assert "GROUP BY crossing_id, route" in sql
    assert "sum(persons)" in sql and "FROM borderwatch.crossing_counts" in sql
    assert "minute >= %(start)s" in sql and "crossing_id = %(crossing)s" in sql and "%(end)s" not in sql
    assert params == {"start": start, "route": "Western African", "crossing": "ES-TENERIFE"}
    sql, params = counts_query("borderwatch", CountsFilter(GroupBy.TYPE))
    assert "WHERE" not in sql and "GROUP BY incident_type" in sql and params == {}


def test_redact_dsn_hides_only_the_password() -> None:
    from streams.sinks.clickhouse.connection import redact_dsn

    assert redact_dsn("http://analyst:s3cr%40t@10.0.0.7:8123/borderwatch") == (
        "http://analyst:***@10.0.0.7:8123/borderwatch"
    )
    assert redact_dsn("chdb:///var/lib/borderwatch/chdb") == "chdb:///var/lib/borderwatch/chdb"
    assert redact_dsn("https://u@ch:8443/bw?compress=1&Password=hunter2&access_token=t0k") == (
        "https://u@ch:8443/bw?compress=1&Password=***&access_token=***"
    )


def test_since_counts_back_from_the_newest_report_of_a_sample_a_year_old(engine_dir: Path) -> None:
    client = connect(f"chdb://{engine_dir}")
    migrate(client, "t_counts_since")
    client.insert(
        "t_counts_since.crossing_counts",
        [[datetime(2025, 4, 1, 10, tzinfo=UTC), "ES-CEUTA-LAND", "Western Mediterranean", "other", 1, 5],
         [datetime(2025, 3, 25, 10, tzinfo=UTC), "ES-CEUTA-LAND", "Western Mediterranean", "other", 1, 7],
         [datetime(2025, 3, 1, 10, tzinfo=UTC), "ES-CEUTA-LAND", "Western Mediterranean", "other", 1, 11]],
        column_names=["minute", "crossing_id", "route", "incident_type", "reports", "persons"],
    )  # fmt: skip
    window = TimeWindow.parse("7d", None).resolve(newest_minute(client, "t_counts_since"))
    week = run_counts(client, "t_counts_since", CountsFilter(start=window.start))
    assert [(r["reports"], r["persons"]) for r in week] == [(2, 12)]
    everything = run_counts(client, "t_counts_since", CountsFilter())
    assert [(r["reports"], r["persons"]) for r in everything] == [(3, 23)]
    client.close()
