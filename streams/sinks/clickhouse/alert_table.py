"""Sink stage: alerts in ClickHouse, one row per alert state, the latest version per id wins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy
from clickhouse_connect.driver.client import Client

from schemas.alerts import Alert

ALERT_COLUMNS = (
    "id", "version", "kind", "status", "impact", "confidence", "zone_id", "route", "window_start",
    "window_end", "event_ids", "vessel_ids", "lat_deg", "lon_deg", "headline", "description", "notify",
    "opened_at", "sent_at",
)  # fmt: skip
SELECT_ALERTS = ", ".join(ALERT_COLUMNS)


class AlertTimes(Protocol):
    """An absolute event-time window, [start, end), either end open (streams.analyst.window)."""

    @property
    def start(self) -> datetime | None: ...

    @property
    def end(self) -> datetime | None: ...


class ClickHouseAlertSink:
    """Writes and reads the `alerts` table; a replayed alert state is the same row."""

    def __init__(self, client: Client, db: str) -> None:
        self.client = client
        self.db = db

    def write_alerts(self, alerts: Sequence[Alert]) -> None:
        """Insert a batch of alert states as one block."""
        if not alerts:
            return
        rows = [
            [
                a.id, a.version, a.kind.value, a.status.value, a.impact.value, a.confidence, a.zone_id,
                a.route, a.window_start, a.window_end, a.event_ids, a.vessel_ids, a.lat, a.lon,
                a.headline, a.description, a.notify, a.opened_at, a.sent_at,
            ]
            for a in alerts
        ]  # fmt: skip
        self.client.insert(f"{self.db}.alerts", rows, column_names=list(ALERT_COLUMNS))


def newest_alert_end(client: Client, db: str) -> datetime | None:
    """The newest alert window's end (event time), which `alerts --since 1d` counts back from; None before
    the first alert."""
    newest, count = client.query(f"SELECT max(window_end), count() FROM {db}.alerts").result_rows[0]
    if not count:
        return None
    return newest if newest.tzinfo else newest.replace(tzinfo=UTC)


def latest_alerts_query(
    db: str, within: AlertTimes | None = None, kind: str | None = None, alert_id: str | None = None
) -> tuple[str, dict[str, Any]]:
    """SQL for the latest state of each alert, newest first, optionally filtered.

    `within` is an absolute window of the alerts' window end (event time), [start, end).
    """
    where: list[str] = []
    parameters: dict[str, Any] = {}
    if within is not None and within.start is not None:
        where.append("window_end >= %(start)s")
        parameters["start"] = within.start
    if within is not None and within.end is not None:
        where.append("window_end < %(end)s")
        parameters["end"] = within.end
    if kind is not None:
        where.append("kind = %(kind)s")
        parameters["kind"] = kind
    if alert_id is not None:
        where.append("id = %(id)s")
        parameters["id"] = alert_id
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    query = f"SELECT {SELECT_ALERTS} FROM {db}.alerts FINAL {clause} ORDER BY window_end DESC, id LIMIT 1000"
    return query, parameters


def float32_value(value: float) -> float:
    """A Float32 column's value as the shortest decimal that is that float32 (0.99, not
    0.9900000095367432): what the detector wrote, not the widening's digits."""
    return float(str(numpy.float32(value)))


def read_alerts(
    client: Client, db: str, within: AlertTimes | None = None, kind: str | None = None,
    alert_id: str | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """The latest state of each alert as JSON-ready dicts in the `Alert` model's shape."""
    query, parameters = latest_alerts_query(db, within, kind, alert_id)
    result = client.query(query, parameters=parameters)
    alerts = []
    for row in result.named_results():
        row["lat"], row["lon"] = row.pop("lat_deg"), row.pop("lon_deg")
        row["confidence"] = float32_value(row["confidence"])
        for name in ("window_start", "window_end", "opened_at", "sent_at"):
            # The columns are UTC; some clickhouse-connect backends return them naive.
            if row[name].tzinfo is None:
                row[name] = row[name].replace(tzinfo=UTC)
        alerts.append(Alert.model_validate(row).model_dump(mode="json"))
    return alerts
