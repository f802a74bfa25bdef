"""Migration 12: counts that can take an erasure's negative row."""

from __future__ import annotations

VERSION = 12
STATEMENT = "ALTER TABLE {db}.crossing_counts MODIFY COLUMN reports Int64, MODIFY COLUMN persons Int64"
