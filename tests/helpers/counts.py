"""What a worker stored, read back through its API."""

from __future__ import annotations

from typing import Any


def stored_counts(worker: Any) -> dict[tuple[str, str, str], list[int]]:
    """Reports and persons per (crossing, route, incident type), as `Feed.expected` has them."""
    rows = worker.sql(
        "SELECT crossing_id, route, incident_type, sum(reports), sum(persons) "
        "FROM borderwatch.crossing_counts GROUP BY crossing_id, route, incident_type"
    )
    return {(c, r, t): [int(n), int(p)] for c, r, t, n, p in rows}
