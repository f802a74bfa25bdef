"""Migration 6: the transitions table, one row per zone, vessel, fix and direction."""

from __future__ import annotations

VERSION = 6
# Geofence transitions as data (sinks/clickhouse/transition_table.py): one row per
# (zone, vessel, fix, direction).
STATEMENT = """CREATE TABLE IF NOT EXISTS {db}.transitions (
        vessel_key String,
        mmsi String,
        imo String,
        name String,
        callsign String,
        vessel_type LowCardinality(String),
        zone_id LowCardinality(String),
        route LowCardinality(String),
        direction LowCardinality(String),
        observed_at DateTime64(3, 'UTC'),
        event_id String,
        lat_deg Float64,
        lon_deg Float64,
        received_at Nullable(DateTime64(3, 'UTC')),
        inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree
    ORDER BY (zone_id, vessel_key, event_id, direction)
    SETTINGS non_replicated_deduplication_window = {window}"""
