"""Analyst queries: counts per crossing, route or incident type from crossing_counts."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


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


def parse_duration_s(text: str) -> int:
    """'90s', '15m', '1h', '2d', '1w' to seconds; ValueError naming the text otherwise."""
    match = _DURATION.match(text)
    if not match or len(match.group(1)) > 6:
        raise ValueError(f"duration {text!r} is not a number (at most 6 digits) followed by s, m, h, d or w")
    return int(match.group(1)) * _UNITS[match.group(2)]


def counts_query(
    db: str, by: GroupBy, since_s: int | None = None, route: str | None = None
) -> tuple[str, dict[str, Any]]:
    """SQL and parameters for exact counts; `since_s` is measured back from the newest report's event time
    in the data, never the wall clock: a backfill of last year's reports is counted like a live feed."""
    columns = _GROUP_COLUMNS[by]
    where: list[str] = []
    params: dict[str, Any] = {}
    if since_s is not None:
        newest = f"(SELECT max(minute) FROM {db}.crossing_counts)"
        where.append(f"minute >= {newest} - toIntervalSecond(%(since)s)")
        params["since"] = since_s
    if route:
        where.append("route = %(route)s")
        params["route"] = route
    sql = (
        f"SELECT {', '.join(columns)}, sum(reports) AS reports, sum(persons) AS persons, "
        "max(minute) AS last_minute "
        f"FROM {db}.crossing_counts"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" GROUP BY {', '.join(columns)} ORDER BY persons DESC, {', '.join(columns)}"
    )
    return sql, params


def run_counts(
    client: Client, db: str, by: GroupBy, since_s: int | None = None, route: str | None = None
) -> list[dict[str, Any]]:
    """Rows of `counts_query` as dicts, JSON-ready."""
    sql, params = counts_query(db, by, since_s, route)
    result = client.query(sql, parameters=params)
    return [
        {name: (value.isoformat() if hasattr(value, "isoformat") else value)
         for name, value in zip(result.column_names, row)}
        for row in result.result_rows
    ]  # fmt: skip
