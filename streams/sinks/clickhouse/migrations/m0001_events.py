"""Migration 1: the events table, one row per report identity."""

from __future__ import annotations

VERSION = 1
STATEMENT = """CREATE TABLE IF NOT EXISTS {db}.events (
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
        report String
    ) ENGINE = ReplacingMergeTree
    ORDER BY (authority, report_id)
    SETTINGS non_replicated_deduplication_window = {window}"""
