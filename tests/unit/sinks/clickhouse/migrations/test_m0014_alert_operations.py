"""Migration 14 and the alert operations on a real engine (chdb): every version kept from then on and
what `alerts` still held, run again after a crash without doubles; acks, silences and the alert view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from clickhouse_connect.driver.client import Client

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from streams.analyst.alert_state import ClearTimes
from streams.delivery.silences import SilenceRequest, new_silence
from streams.detect.thresholds import Thresholds
from streams.sinks.clickhouse.alert_ops import ClickHouseAlertOps, read_alert_view
from streams.sinks.clickhouse.alert_table import ClickHouseAlertSink
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.migrations import m0014_alert_operations
from streams.sinks.clickhouse.migrations.lock import no_beat
from streams.sinks.clickhouse.migrations.runner import MIGRATIONS, migrate
from streams.sinks.clickhouse.schema import DEDUP_WINDOW

END = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def state(version: int, status: AlertStatus = AlertStatus.UPDATED) -> Alert:
    return Alert(
        id="surge:ES-CEUTA-LAND:1764000000", version=version, kind=AlertKind.SURGE, status=status,
        impact=Impact.HIGH, confidence=0.99, zone_id="ES-CEUTA-LAND", window_start=END - timedelta(hours=6),
        window_end=END + timedelta(minutes=version), event_ids=["ES-GC:1"], headline="Surge at ES-CEUTA-LAND",
        description="40 reports in 24 h; tail probability 3.5e-09", opened_at=END, sent_at=END,
    )  # fmt: skip


def before_14(client: Client, db: str) -> None:
    """A database of the release before, with two versions of an alert in `alerts`."""
    client.command(f"DROP DATABASE IF EXISTS {db}")
    client.command(f"CREATE DATABASE {db}")
    client.command(
        f"CREATE TABLE {db}.schema_migrations (version UInt32, applied_at DateTime DEFAULT now()) "
        "ENGINE = MergeTree ORDER BY version"
    )
    for version in range(1, m0014_alert_operations.VERSION):
        step = MIGRATIONS[version]
        if isinstance(step, str):
            client.command(step.format(db=db, window=DEDUP_WINDOW))
        else:
            step(client, db, no_beat)
        client.insert(f"{db}.schema_migrations", [[version]], column_names=["version"])
    sink = ClickHouseAlertSink(client, db)
    sink.write_alerts([state(1, AlertStatus.NEW)])
    sink.write_alerts([state(2)])


def versions(client: Client, db: str) -> list[int]:
    rows = client.query(f"SELECT version FROM {db}.alert_history FINAL ORDER BY version").result_rows
    return [v for (v,) in rows]


def test_the_versions_in_alerts_are_kept_and_every_later_one_too_after_a_crash_without_doubles(
    engine_dir: Path,
) -> None:
    db = "bw_m0014_unit"
    client = connect(f"chdb://{engine_dir}")
    before_14(client, db)
    assert migrate(client, db) == 1
    assert versions(client, db) == [1, 2]
    m0014_alert_operations.apply(client, db, no_beat)  # a crash before the version was recorded
    assert versions(client, db) == [1, 2]
    ClickHouseAlertSink(client, db).write_alerts([state(3, AlertStatus.RESOLVED)])
    assert versions(client, db) == [1, 2, 3]
    assert client.query(f"SELECT max(version) FROM {db}.alerts FINAL").result_rows[0][0] == 3


def test_acks_silences_and_the_view_of_an_alert(engine_dir: Path) -> None:
    db = "bw_m0014_ops_unit"
    client = connect(f"chdb://{engine_dir}")
    before_14(client, db)
    migrate(client, db)
    ops = ClickHouseAlertOps(client, db)
    alert_id = state(1).id
    assert ops.ack("no-such-alert:1", "alice", "", END) is None
    assert ops.ack(alert_id, "alice", "patrol sent", END) is not None
    running = SilenceRequest(
        kind=AlertKind.SURGE, until=datetime.now(UTC) + timedelta(hours=2), reason="drill"
    )
    ended = SilenceRequest(zone_id="X", until=datetime.now(UTC) - timedelta(hours=1), reason="old")
    silence = ops.silence(new_silence(running, "bob", datetime.now(UTC)))
    ops.silence(new_silence(ended, "bob", datetime.now(UTC) - timedelta(hours=2)))
    assert ops.silences() == [silence]
    assert len(ops.silences(ended_too=True)) == 2

    clear = ClearTimes.of(Thresholds())
    (shown,) = read_alert_view(client, db, clear, alert_id=alert_id)
    assert shown["status"] == "updated" and shown["stale"] is False  # no reports: no clock to resolve by
    assert shown["confidence"] == 0.99  # the float32's own value, not 0.9900000095367432
    assert [a["by"] for a in shown["acks"]] == ["alice"] and shown["acks"][0]["note"] == "patrol sent"
    assert shown["silenced_by"]["id"] == silence.id
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    # An interception report 13 h after the last evidence: a surge's 12 h clear time has passed.
    client.insert(
        f"{db}.events", [["ES-GC", "late-1", "interception", END + timedelta(hours=13), END]],
        column_names=["authority", "report_id", "kind", "observed_at", "received_at"],
    )  # fmt: skip
    (listed,) = read_alert_view(client, db, clear)
    assert (listed["status"], listed["stale"]) == ("resolved", True) and "versions" not in listed
