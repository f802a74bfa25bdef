"""Migration 5: the alerts table, the latest version of each alert winning."""

from __future__ import annotations

VERSION = 5
STATEMENT = """CREATE TABLE IF NOT EXISTS {db}.alerts (
        id String,
        version UInt32,
        kind LowCardinality(String),
        status LowCardinality(String),
        impact LowCardinality(String),
        confidence Float32,
        zone_id LowCardinality(String),
        route LowCardinality(String),
        window_start DateTime64(3, 'UTC'),
        window_end DateTime64(3, 'UTC'),
        event_ids Array(String),
        vessel_ids Array(String),
        lat_deg Nullable(Float64),
        lon_deg Nullable(Float64),
        headline String,
        description String,
        notify Bool,
        opened_at DateTime64(3, 'UTC'),
        sent_at DateTime64(3, 'UTC'),
        inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY id"""
