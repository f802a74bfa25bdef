"""Migration 3: the view that counts each events insert into crossing_counts."""

from __future__ import annotations

VERSION = 3
STATEMENT = """CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.crossing_counts_mv TO {db}.crossing_counts AS
    SELECT toStartOfMinute(observed_at) AS minute, crossing_id, route, incident_type,
           count() AS reports, sum(persons) AS persons
    FROM {db}.events WHERE kind = 'interception'
    GROUP BY minute, crossing_id, route, incident_type"""
