"""Sink stage: what operators do with alerts, in ClickHouse: acknowledgements and silences (migration 14),
and the reads that show alerts with them (streams/analyst/alert_state.py decides what they mean)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from streams.analyst.alert_state import Ack, ClearTimes, EventClock, annotate
from streams.delivery.silences import Silence
from streams.sinks.clickhouse.alert_table import AlertTimes, float32_value, read_alerts

SILENCE_COLUMNS = ("id", "version", "kind", "zone_id", "until", "reason", "created_by", "created_at")
VERSION_COLUMNS = (
    "version",
    "status",
    "impact",
    "confidence",
    "notify",
    "window_end",
    "sent_at",
    "description",
)


def _utc(value: datetime) -> datetime:
    """The columns are UTC; some clickhouse-connect backends return them naive."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def write_ack(client: Client, db: str, ack: Ack) -> None:
    """Record one acknowledgement."""
    client.insert(
        f"{db}.alert_acks", [[ack.alert_id, ack.by, ack.at, ack.note]],
        column_names=["alert_id", "acked_by", "acked_at", "note"],
    )  # fmt: skip


def write_silence(client: Client, db: str, silence: Silence) -> None:
    """Record one silence."""
    row = [silence.id, 1, silence.kind.value if silence.kind else "", silence.zone_id, silence.until,
           silence.reason, silence.created_by, silence.created_at]  # fmt: skip
    client.insert(f"{db}.alert_silences", [row], column_names=list(SILENCE_COLUMNS))


def read_silences(client: Client, db: str, ended_too: bool = True) -> list[Silence]:
    """The silences, latest `until` first; only those still running unless `ended_too`."""
    where = "" if ended_too else "WHERE until > now64(3)"
    result = client.query(
        f"SELECT {', '.join(SILENCE_COLUMNS)} FROM {db}.alert_silences FINAL {where} ORDER BY until DESC, id"
    )
    silences = []
    for row in result.named_results():
        row.pop("version")
        row["kind"] = row["kind"] or None
        row["until"], row["created_at"] = _utc(row["until"]), _utc(row["created_at"])
        silences.append(Silence.model_validate(row))
    return silences


def read_acks(client: Client, db: str, alert_ids: list[str]) -> list[Ack]:
    """The acknowledgements of these alerts."""
    if not alert_ids:
        return []
    result = client.query(
        f"SELECT alert_id, acked_by, acked_at, note FROM {db}.alert_acks FINAL "
        "WHERE alert_id IN %(ids)s ORDER BY acked_at",
        parameters={"ids": alert_ids},
    )
    return [Ack(alert_id, by, _utc(at), note) for alert_id, by, at, note in result.result_rows]


def read_versions(client: Client, db: str, alert_id: str) -> list[dict[str, Any]]:
    """Every version of one alert that was stored, oldest first."""
    result = client.query(
        f"SELECT {', '.join(VERSION_COLUMNS)} FROM {db}.alert_history FINAL "
        "WHERE id = %(id)s ORDER BY version",
        parameters={"id": alert_id},
    )
    versions = []
    for row in result.named_results():
        row["confidence"] = float32_value(row["confidence"])
        for name in ("window_end", "sent_at"):
            row[name] = _utc(row[name]).isoformat()
        versions.append(row)
    return versions


def event_clock(client: Client, db: str) -> EventClock:
    """The newest event time of interception reports and of all reports."""
    rows = client.query(
        f"SELECT maxIf(observed_at, kind = 'interception'), max(observed_at), count() FROM {db}.events"
    ).result_rows
    newest_interception, newest, count = rows[0]
    if not count:
        return EventClock(None, None)
    interceptions = _utc(newest_interception).timestamp()
    return EventClock(interceptions if interceptions > 0 else None, _utc(newest).timestamp())


def read_alert_view(
    client: Client, db: str, clear: ClearTimes, within: AlertTimes | None = None, kind: str | None = None,
    alert_id: str | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """The latest state of each alert with what it means now (`annotate`); asked for by id, with
    `versions` too."""
    alerts = read_alerts(client, db, within, kind, alert_id)
    acks = read_acks(client, db, [a["id"] for a in alerts])
    shown = annotate(alerts, acks, read_silences(client, db), event_clock(client, db), clear)
    if alert_id is not None:
        for alert in shown:
            alert["versions"] = read_versions(client, db, alert["id"])
    return shown


class ClickHouseAlertOps:
    """Acknowledging and silencing on the worker that holds ClickHouse (its sink's client)."""

    def __init__(self, client: Client, db: str) -> None:
        self.client = client
        self.db = db

    def ack(self, alert_id: str, by: str, note: str, at: datetime) -> Ack | None:
        """Record an acknowledgement; None when there is no such alert."""
        found = self.client.query(
            f"SELECT count() FROM {self.db}.alerts WHERE id = %(id)s", parameters={"id": alert_id}
        ).result_rows[0][0]
        if not found:
            return None
        ack = Ack(alert_id, by, at, note)
        write_ack(self.client, self.db, ack)
        return ack

    def silence(self, silence: Silence) -> Silence:
        """Record a silence."""
        write_silence(self.client, self.db, silence)
        return silence

    def silences(self, ended_too: bool = False) -> list[Silence]:
        """The silences still running, or all of them."""
        return read_silences(self.client, self.db, ended_too)
