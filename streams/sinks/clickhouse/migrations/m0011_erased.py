"""Migration 11: the identities of the reports erased."""

from __future__ import annotations

VERSION = 11
# Erasure (streams/sinks/clickhouse/erase.py): the identities erased, and counts that can take a
# compensating negative row.
STATEMENT = """CREATE TABLE IF NOT EXISTS {db}.erased (
        authority String,
        report_id String,
        erased_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree
    ORDER BY (authority, report_id)"""
