"""Migration 8: `rejects` keyed by the source's broker cluster too."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from streams.sinks.clickhouse.columns import REJECT_COLUMNS
from streams.sinks.clickhouse.migrations.lock import Beat
from streams.sinks.clickhouse.schema import DEDUP_WINDOW, REJECTS_TABLE

VERSION = 8


def apply(client: Client, db: str, beat: Beat) -> None:
    """Rebuild `rejects` with the source's cluster in its key (ReplacingMergeTree would merge
    the same offset of two logs into one row); run again after a crash, it finishes the job."""
    columns = {row[0] for row in client.query(
        "SELECT name FROM system.columns WHERE database = %(db)s AND table = 'rejects'", parameters={"db": db}
    ).result_rows}  # fmt: skip
    if "source_cluster" not in columns:
        new = REJECTS_TABLE.format(
            table="rejects_by_cluster", cluster="\n        source_cluster LowCardinality(String),",
            key="source_cluster, ",
        )  # fmt: skip
        client.command(new.format(db=db, window=DEDUP_WINDOW))
        client.command(f"TRUNCATE TABLE {db}.rejects_by_cluster")  # a copy a crash cut short
        kept = ", ".join(c for c in REJECT_COLUMNS if c != "source_cluster")
        client.command(f"INSERT INTO {db}.rejects_by_cluster ({kept}) SELECT {kept} FROM {db}.rejects FINAL")
        client.command(f"EXCHANGE TABLES {db}.rejects AND {db}.rejects_by_cluster")
    client.command(f"DROP TABLE IF EXISTS {db}.rejects_by_cluster")
