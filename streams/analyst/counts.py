"""Analyst queries: counts per crossing, route or incident type from crossing_counts.

`parse_duration_s` lives in streams.analyst.window and is re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from streams.analyst.window import TimeWindow, parse_duration_s

__all__ = [
    "CountsAsked",
    "CountsFilter",
    "GroupBy",
    "counts_query",
    "newest_minute",
    "parse_duration_s",
    "run_counts",
]

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client


class GroupBy(StrEnum):
    """The dimensions counts can be grouped by."""

    CROSSING = "crossing"
    ROUTE = "route"
    TYPE = "type"


_GROUP_COLUMNS = {
    GroupBy.CROSSING: ("crossing_id", "route"),
    GroupBy.ROUTE: ("route",),
    GroupBy.TYPE: ("incident_type",),
}


@dataclass(frozen=True)
class CountsAsked:
    """What `counts` asks for, as the analyst typed it: the window is resolved where the data is."""

    by: GroupBy = GroupBy.CROSSING
    window: TimeWindow = field(default_factory=TimeWindow)
    route: str | None = None
    crossing: str | None = None


@dataclass(frozen=True)
class CountsFilter:
    """What `counts` asks for: grouping, an absolute event-time window (see streams.analyst.window) and
    a route or crossing."""

    by: GroupBy = GroupBy.CROSSING
    start: datetime | None = None
    end: datetime | None = None
    route: str | None = None
    crossing: str | None = None


def newest_minute_query(db: str) -> str:
    """The newest minute in crossing_counts: what a --since or --until duration counts back from."""
    return f"SELECT max(minute), count() FROM {db}.crossing_counts"


def counts_query(db: str, wanted: CountsFilter) -> tuple[str, dict[str, Any]]:
    """SQL and parameters for exact counts in [start, end) of event time."""
    columns = _GROUP_COLUMNS[wanted.by]
    where: list[str] = []
    params: dict[str, Any] = {}
    if wanted.start is not None:
        where.append("minute >= %(start)s")
        params["start"] = wanted.start
    if wanted.end is not None:
        where.append("minute < %(end)s")
        params["end"] = wanted.end
    if wanted.route:
        where.append("route = %(route)s")
        params["route"] = wanted.route
    if wanted.crossing:
        where.append("crossing_id = %(crossing)s")
        params["crossing"] = wanted.crossing
    sql = (
        f"SELECT {', '.join(columns)}, sum(reports) AS reports, sum(persons) AS persons, "
        "max(minute) AS last_minute "
        f"FROM {db}.crossing_counts"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" GROUP BY {', '.join(columns)} ORDER BY persons DESC, {', '.join(columns)}"
    )
    return sql, params


def newest_minute(client: Client, db: str) -> datetime | None:
    """The newest minute counted, in UTC; None before the first report."""
    newest, count = client.query(newest_minute_query(db)).result_rows[0]
    if not count:
        return None
    return newest if newest.tzinfo else newest.replace(tzinfo=UTC)


def run_counts(client: Client, db: str, wanted: CountsFilter) -> list[dict[str, Any]]:
    """Rows of `counts_query` as dicts, JSON-ready."""
    sql, params = counts_query(db, wanted)
    result = client.query(sql, parameters=params)
    return [
        {name: (value.isoformat() if hasattr(value, "isoformat") else value)
         for name, value in zip(result.column_names, row)}
        for row in result.result_rows
    ]  # fmt: skip
