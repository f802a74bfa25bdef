"""Migration 7: each event's source position names its broker cluster."""

from __future__ import annotations

VERSION = 7
# Offsets are positions in one broker's log; a broker that lost its log starts them
# again under a new cluster id, so each stored position names its cluster too.
STATEMENT = (
    """ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS source_cluster LowCardinality(String) DEFAULT ''
    AFTER source_offset"""
)
