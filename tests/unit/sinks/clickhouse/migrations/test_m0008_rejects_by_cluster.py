"""Migration 8 on a real engine (chdb): the rejects table of an earlier release is rebuilt with the
source's cluster in its key, after a crash too, and loses nothing."""

from __future__ import annotations

from pathlib import Path

from clickhouse_connect.driver.client import Client

from streams.sinks.clickhouse.columns import REJECT_COLUMNS
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.migrations import m0008_rejects_by_cluster
from streams.sinks.clickhouse.migrations.runner import MIGRATIONS, migrate
from streams.sinks.clickhouse.schema import DEDUP_WINDOW, REJECTS_TABLE
from tests.helpers.clickhouse import letter


def test_the_rejects_table_of_an_earlier_release_is_rebuilt_with_the_cluster_and_loses_nothing(
    engine_dir: Path,
) -> None:
    db = "bw_rejects_upgrade_unit"
    client = connect(f"chdb://{engine_dir}")
    before = m0008_rejects_by_cluster.VERSION - 2  # the events column (7) comes just before
    client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    for version in range(1, before + 1):
        statement = MIGRATIONS[version]
        assert isinstance(statement, str)
        client.command(statement.format(db=db, window=DEDUP_WINDOW))
    columns = [c for c in REJECT_COLUMNS if c != "source_cluster"]
    rows = [[d.source_topic, d.source_partition, d.source_offset, d.reason.value, d.field, d.detail,
             d.received_at, d.raw] for d in (letter(0), letter(1), letter(2))]  # fmt: skip
    client.insert(f"{db}.rejects", rows, column_names=columns)
    # A crash cut an earlier try short: half a copy is left behind.
    _key_rejects_by_cluster_table_left_half_done(client, db)
    client.command(
        f"CREATE TABLE {db}.schema_migrations (version UInt32, applied_at DateTime DEFAULT now()) "
        "ENGINE = MergeTree ORDER BY version"
    )
    client.insert(f"{db}.schema_migrations", [[v] for v in range(1, before + 1)], column_names=["version"])
    assert migrate(client, db) == len(MIGRATIONS) - before
    assert migrate(client, db) == 0
    kept = client.query(f"SELECT source_offset, source_cluster FROM {db}.rejects ORDER BY 1").result_rows
    assert kept == [(0, ""), (1, ""), (2, "")]
    key = client.query(
        "SELECT sorting_key FROM system.tables WHERE database = %(db)s AND name = 'rejects'",
        parameters={"db": db},
    ).result_rows
    assert key == [("source_cluster, source_topic, source_partition, source_offset",)]
    assert client.query(f"EXISTS TABLE {db}.rejects_by_cluster").result_rows == [(0,)]


def _key_rejects_by_cluster_table_left_half_done(client: Client, db: str) -> None:
    client.command(
        REJECTS_TABLE.format(table="rejects_by_cluster", cluster="\n source_cluster LowCardinality(String),",
                             key="source_cluster, ").format(db=db, window=DEDUP_WINDOW)
    )  # fmt: skip
    client.command(
        f"INSERT INTO {db}.rejects_by_cluster SELECT source_topic, source_partition, source_offset, '', "
        f"reason, field, detail, received_at, raw FROM {db}.rejects WHERE source_offset = 0"
    )
