"""The schema on a real engine (chdb): the migrated tables are those schema.py describes, and each derived
view's rows are what its table takes."""

from __future__ import annotations

from pathlib import Path

from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.sinks.clickhouse.schema import DEDUP_WINDOW, DERIVED_VIEWS, EVENTS_PARTITION_KEY

DB = "bw_schema"


def test_events_are_partitioned_as_the_schema_says_and_remember_the_dedup_window(engine_dir: Path) -> None:
    client = connect(f"chdb://{engine_dir}")
    migrate(client, DB)
    tables = {str(name): str(query) for name, query in client.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = %(db)s", parameters={"db": DB}
    ).result_rows}  # fmt: skip
    assert f"PARTITION BY {EVENTS_PARTITION_KEY}" in tables["events"]
    for table in ("events", "rejects", "transitions"):  # the tables written with an insert token
        assert f"non_replicated_deduplication_window = {DEDUP_WINDOW}" in tables[table], table


def test_each_derived_view_feeds_its_table_with_the_rows_the_repair_reads(engine_dir: Path) -> None:
    client = connect(f"chdb://{engine_dir}")
    migrate(client, DB)
    for view, derived in DERIVED_VIEWS.items():
        made = client.query(
            "SELECT create_table_query FROM system.tables WHERE database = %(db)s AND name = %(view)s",
            parameters={"db": DB, "view": view},
        ).result_rows
        assert made and f"TO {DB}.{derived.table}" in str(made[0][0]), view
        # The repair inserts these rows into the table as they are, by position: its columns, in order.
        selected = client.query(f"DESCRIBE ({derived.rows.format(db=DB, final=' FINAL')})").result_rows
        columns = client.query(
            "SELECT name FROM system.columns WHERE database = %(db)s AND table = %(table)s ORDER BY position",
            parameters={"db": DB, "table": derived.table},
        ).result_rows
        assert [row[0] for row in selected] == [name for (name,) in columns], view
