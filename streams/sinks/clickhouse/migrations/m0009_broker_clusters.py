"""Migration 9: the broker clusters whose logs the sink has read."""

from __future__ import annotations

VERSION = 9
STATEMENT = """CREATE TABLE IF NOT EXISTS {db}.broker_clusters (
        cluster_id String,
        first_seen DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = MergeTree
    ORDER BY cluster_id"""
