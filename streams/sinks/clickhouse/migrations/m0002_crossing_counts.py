"""Migration 2: counts per crossing, route and incident type per minute."""

from __future__ import annotations

VERSION = 2
STATEMENT = """CREATE TABLE IF NOT EXISTS {db}.crossing_counts (
        minute DateTime('UTC'),
        crossing_id LowCardinality(String),
        route LowCardinality(String),
        incident_type LowCardinality(String),
        reports UInt64,
        persons UInt64
    ) ENGINE = SummingMergeTree
    ORDER BY (minute, crossing_id, route, incident_type)"""
