"""Migration 10: the TTLs applied last."""

from __future__ import annotations

VERSION = 10
# The TTLs applied last (streams/sinks/clickhouse/retention.py).
STATEMENT = """CREATE TABLE IF NOT EXISTS {db}.retention_applied (
        name String,
        statement String,
        applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = MergeTree
    ORDER BY name"""
