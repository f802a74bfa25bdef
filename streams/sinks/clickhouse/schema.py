"""ClickHouse schema: the DDL of the tables the sink writes, and of the views deriving tables from events.

A table made by one migration and never changed since keeps its DDL in that
migration's file (migrations/m00NN_*.py): a released migration's text never
changes. What more than one place needs (the migrations, the sink, the
repairs) is here.
"""

from __future__ import annotations

from typing import NamedTuple

DEDUP_WINDOW = 100_000  # blocks remembered for insert_deduplication_token

# Dead letters by source position: `table`, `cluster` and `key` are filled in first (migrations 4
# and 8), then `db` and `window`.
REJECTS_TABLE = """CREATE TABLE IF NOT EXISTS {{db}}.{table} (
        source_topic LowCardinality(String),
        source_partition UInt32,
        source_offset UInt64,{cluster}
        reason LowCardinality(String),
        field String,
        detail String,
        received_at DateTime64(3, 'UTC'),
        raw String
    ) ENGINE = ReplacingMergeTree
    ORDER BY ({key}source_topic, source_partition, source_offset)
    SETTINGS non_replicated_deduplication_window = {{window}}"""

# Production scale (docs/operations/clickhouse.md): events in monthly partitions, in the order
# analysts filter by; the identity lookup of every batch goes to `report_keys` instead.
EVENTS_BY_MONTH = """CREATE TABLE IF NOT EXISTS {db}.{table} (
        authority LowCardinality(String),
        report_id String,
        kind LowCardinality(String),
        observed_at DateTime64(3, 'UTC'),
        reported_at Nullable(DateTime64(3, 'UTC')),
        received_at DateTime64(3, 'UTC'),
        published_at Nullable(DateTime64(3, 'UTC')),
        inserted_at DateTime64(3, 'UTC') DEFAULT now64(3),
        lat_deg Nullable(Float64),
        lon_deg Nullable(Float64),
        crossing_id LowCardinality(String),
        country LowCardinality(String),
        route LowCardinality(String),
        incident_type LowCardinality(String),
        persons UInt32,
        nationalities Map(LowCardinality(String), UInt32),
        vessel_key String,
        source_topic LowCardinality(String),
        source_partition UInt32,
        source_offset UInt64,
        source_cluster LowCardinality(String) DEFAULT '',
        report String
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(observed_at)
    ORDER BY (crossing_id, observed_at, authority, report_id)
    SETTINGS non_replicated_deduplication_window = {window}"""
EVENTS_PARTITION_KEY = "toYYYYMM(observed_at)"
# Reports may be from any month since 2000: an insert of many months is slow, never refused.
ANY_PARTITIONS = "throw_on_max_partitions_per_insert_block = 0"
# Each report's identity and where it was first read: the sink's check before every insert.
REPORT_KEYS = """CREATE TABLE IF NOT EXISTS {db}.report_keys (
        authority LowCardinality(String),
        report_id String,
        source_topic LowCardinality(String),
        source_partition UInt32,
        source_offset UInt64,
        source_cluster LowCardinality(String),
        observed_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree
    ORDER BY (authority, report_id)
    SETTINGS index_granularity = 1024"""  # a batch's keys are looked up one granule each
REPORT_KEY_COLUMNS = (
    "authority, report_id, source_topic, source_partition, source_offset, source_cluster, observed_at"
)
# Vessel positions, per vessel in time order, kept for their own retention (clickhouse/retention.py).
VESSEL_POSITIONS = """CREATE TABLE IF NOT EXISTS {db}.vessel_positions (
        vessel_key String,
        observed_at DateTime64(3, 'UTC'),
        lat_deg Float64,
        lon_deg Float64,
        crossing_id LowCardinality(String),
        route LowCardinality(String),
        authority LowCardinality(String),
        report_id String,
        received_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(observed_at)
    ORDER BY (vessel_key, observed_at, authority, report_id)"""
VESSEL_POSITION_ROWS = (
    "SELECT vessel_key, observed_at, assumeNotNull(lat_deg) AS lat_deg, assumeNotNull(lon_deg) AS lon_deg, "
    "crossing_id, route, authority, report_id, received_at FROM {db}.events{final} "
    "WHERE kind = 'vessel' AND lat_deg IS NOT NULL AND lon_deg IS NOT NULL"
)
CROSSING_COUNTS_ROWS = (
    "SELECT toStartOfMinute(observed_at) AS minute, crossing_id, route, incident_type, "
    "count() AS reports, sum(persons) AS persons FROM {db}.events{final} WHERE kind = 'interception' "
    "GROUP BY minute, crossing_id, route, incident_type"
)


class DerivedView(NamedTuple):
    """A materialized view's target table, and the SELECT of its rows from `{db}.events{final}`."""

    table: str
    rows: str


# The views that derive tables from events, by name: each inserts what every events insert adds.
DERIVED_VIEWS = {
    "crossing_counts_mv": DerivedView("crossing_counts", CROSSING_COUNTS_ROWS),
    "report_keys_mv": DerivedView("report_keys", f"SELECT {REPORT_KEY_COLUMNS} FROM {{db}}.events{{final}}"),
    "vessel_positions_mv": DerivedView("vessel_positions", VESSEL_POSITION_ROWS),
}
