"""Migration 14: what operators do with alerts (acknowledgements, silences) and every alert version kept."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from streams.sinks.clickhouse.migrations.lock import Beat

VERSION = 14
ACKS = """CREATE TABLE IF NOT EXISTS {db}.alert_acks (
        alert_id String,
        acked_by String,
        acked_at DateTime64(3, 'UTC'),
        note String
    ) ENGINE = ReplacingMergeTree
    ORDER BY (alert_id, acked_by, acked_at)"""
# A silence is never updated: it ends at `until`; ended early, a new row with the same id and an
# earlier `until` replaces it (the greatest `version` wins).
SILENCES = """CREATE TABLE IF NOT EXISTS {db}.alert_silences (
        id String,
        version UInt32,
        kind LowCardinality(String),
        zone_id String,
        until DateTime64(3, 'UTC'),
        reason String,
        created_by String,
        created_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY id"""
# `alerts` keeps the latest version of an id (ReplacingMergeTree merges the others away): each
# version is copied here as it is inserted. No evidence ids: an erasure never has to look here.
HISTORY = """CREATE TABLE IF NOT EXISTS {db}.alert_history (
        id String,
        version UInt32,
        status LowCardinality(String),
        impact LowCardinality(String),
        confidence Float32,
        notify Bool,
        window_start DateTime64(3, 'UTC'),
        window_end DateTime64(3, 'UTC'),
        description String,
        sent_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree
    ORDER BY (id, version)"""
HISTORY_COLUMNS = (
    "id, version, status, impact, confidence, notify, window_start, window_end, description, sent_at"
)
HISTORY_VIEW = f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.alert_history_mv TO {{db}}.alert_history
    AS SELECT {HISTORY_COLUMNS} FROM {{db}}.alerts"""


def apply(client: Client, db: str, beat: Beat) -> None:
    """Make the three tables and the view, then copy in the versions `alerts` still holds; run again
    after a crash, the copy lands on the same (id, version) rows, which the table keeps once."""
    for statement in (ACKS, SILENCES, HISTORY, HISTORY_VIEW):
        client.command(statement.format(db=db))
        beat()
    client.command(
        f"INSERT INTO {db}.alert_history ({HISTORY_COLUMNS}) SELECT {HISTORY_COLUMNS} FROM {db}.alerts"
    )
    beat()
