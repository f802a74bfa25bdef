"""Sink stage: alerts in ClickHouse, one row per alert state, the latest version per id wins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.alerts import Alert

ALERT_COLUMNS = (
    "id", "version", "kind", "status", "impact", "confidence", "zone_id", "route", "window_start",
    "window_end", "event_ids", "vessel_ids", "lat_deg", "lon_deg", "headline", "description", "notify",
    "opened_at", "sent_at",
)  # fmt: skip
SELECT_ALERTS = ", ".join(ALERT_COLUMNS)


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


def latest_alerts_query(db: str, since: datetime | None, kind: str | None) -> tuple[str, dict[str, Any]]:
    """SQL for the latest state of each alert, newest first, optionally filtered."""
    where: list[str] = []
    parameters: dict[str, Any] = {}
    if since is not None:
        where.append("window_end >= %(since)s")
        parameters["since"] = since
    if kind is not None:
        where.append("kind = %(kind)s")
        parameters["kind"] = kind
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    query = f"SELECT {SELECT_ALERTS} FROM {db}.alerts FINAL {clause} ORDER BY window_end DESC, id LIMIT 1000"
    return query, parameters


def alert_from_row(row: dict[str, Any]) -> Alert:
    """An Alert from a row of `latest_alerts_query`."""
    data: dict[str, Any] = dict(row)
    data["lat"], data["lon"] = data.pop("lat_deg"), data.pop("lon_deg")
    return Alert.model_validate(data)
