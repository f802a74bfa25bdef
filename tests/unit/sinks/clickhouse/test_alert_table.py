"""The alert list in a window of event time (alerts --since/--until) on a real engine (chdb): durations
count back from the newest alert's window end, never the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from streams.analyst.window import TimeWindow
from streams.sinks.clickhouse.alert_table import ClickHouseAlertSink, newest_alert_end, read_alerts
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.migrations.runner import migrate

END = datetime(2025, 4, 10, 6, 0, tzinfo=UTC)  # a sample well before today's clock


def alert(days_before: int) -> Alert:
    end = END - timedelta(days=days_before)
    return Alert(
        id=f"surge:ES-CEUTA-LAND:{days_before}", version=1, kind=AlertKind.SURGE, status=AlertStatus.NEW,
        impact=Impact.HIGH, confidence=0.99, zone_id="ES-CEUTA-LAND", window_start=end - timedelta(hours=6),
        window_end=end, event_ids=["ES-GC:1"], headline="Surge at ES-CEUTA-LAND", description="40 reports",
        opened_at=end, sent_at=end,
    )  # fmt: skip


def test_since_and_until_window_the_alerts_back_from_the_newest(engine_dir: Path) -> None:
    client = connect(f"chdb://{engine_dir}")
    migrate(client, "t_alert_window")
    assert newest_alert_end(client, "t_alert_window") is None
    ClickHouseAlertSink(client, "t_alert_window").write_alerts([alert(d) for d in (0, 2, 5, 9)])
    newest = newest_alert_end(client, "t_alert_window")
    assert newest == END

    def ids(since: str | None, until: str | None) -> list[str]:
        window = TimeWindow.parse(since, until).resolve(newest)
        return sorted(a["id"].rsplit(":", 1)[1] for a in read_alerts(client, "t_alert_window", window))

    assert ids("3d", None) == ["0", "2"]
    assert ids("6d", "1d") == ["2", "5"]  # the end excluded: the newest is not in
    assert ids("2025-04-01", "2025-04-05T06:00Z") == ["9"]  # the 5th at 06:00 is the end, excluded
    assert ids(None, "2025-04-05T06:00:01Z") == ["5", "9"]
    assert ids(None, None) == ["0", "2", "5", "9"]
    client.close()
