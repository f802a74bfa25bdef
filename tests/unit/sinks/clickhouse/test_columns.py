"""Insert blocks: named rows turned into the events and rejects tables' columns, and each block's token."""

from __future__ import annotations

from pathlib import Path

from streams.sinks.clickhouse.columns import (
    EVENT_COLUMNS,
    REJECT_COLUMNS,
    batch_token,
    event_columns,
    event_row,
    reject_columns,
)
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.stages.enrich import process_batch
from tests.helpers.clickhouse import AT, CATALOGUE, interception, letter, vessel_fix


def test_an_event_row_names_each_value_by_its_column() -> None:
    crossing, fix = process_batch([interception("i-1", 4), vessel_fix("v-1")], CATALOGUE, AT).events
    row = event_row(crossing, "cluster-a")
    assert (row.report_id, row.kind, row.persons, row.vessel_key) == ("i-1", "interception", 4, "")
    assert (row.source_topic, row.source_offset) == ("reports.interceptions", 99)
    assert row.source_cluster == "cluster-a"
    assert (row.lat_deg, row.lon_deg) == (35.5, 12.605)
    assert row.incident_type == "irregular_crossing_attempt"
    assert row.report == crossing.raw.decode()
    vessel = event_row(fix, "cluster-a")
    assert (vessel.kind, vessel.persons, vessel.incident_type, vessel.nationalities) == ("vessel", 0, "", {})
    assert vessel.vessel_key == "mmsi:224000001"


def test_event_columns_hold_the_rows_values_under_their_column_names() -> None:
    events = process_batch([interception("i-1", 4), vessel_fix("v-1")], CATALOGUE, AT).events
    columns = dict(zip(EVENT_COLUMNS, event_columns(events, "c"), strict=True))
    assert columns["report_id"] == ["i-1", "v-1"]
    assert columns["persons"] == [4, 0]
    assert columns["kind"] == ["interception", "vessel"]
    assert columns["source_cluster"] == ["c", "c"]
    assert event_columns([], "c") == [[] for _ in EVENT_COLUMNS]


def test_reject_columns_hold_each_dead_letters_values_under_their_column_names() -> None:
    columns = dict(zip(REJECT_COLUMNS, reject_columns([letter(3), letter(5, partition=2)], "c"), strict=True))
    assert columns["source_offset"] == [3, 5]
    assert columns["source_partition"] == [0, 2]
    assert columns["reason"] == ["invalid_json", "invalid_json"]
    assert columns["source_cluster"] == ["c", "c"]
    assert columns["raw"] == [b"\xff", b"\xff"]
    assert reject_columns([], "c") == [[] for _ in REJECT_COLUMNS]


def test_the_insert_columns_are_the_tables_columns_in_the_tables_order(engine_dir: Path) -> None:
    client = connect(f"chdb://{engine_dir}")
    migrate(client, db := "bw_columns")
    for table, names in (("events", EVENT_COLUMNS), ("rejects", REJECT_COLUMNS)):
        stored = client.query(
            "SELECT name FROM system.columns WHERE database = %(db)s AND table = %(table)s "
            "AND name != 'inserted_at' ORDER BY position",  # the insert time is the table's own
            parameters={"db": db, "table": table},
        ).result_rows
        assert tuple(name for (name,) in stored) == names, table


def test_a_batch_token_is_the_same_for_the_same_rows_in_any_order_and_differs_by_kind() -> None:
    rows = [("ES-GC", "a"), ("ES-GC", "b")]
    assert batch_token("events", rows) == batch_token("events", rows[::-1])
    assert batch_token("events", rows) != batch_token("rejects", rows)
    assert batch_token("events", rows) != batch_token("events", rows[:1])
