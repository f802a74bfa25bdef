"""Write a chdb data dir with a release's own sink, for the upgrade-in-place test (tests/data/upgrade/).

Run it with the release to capture on the path, e.g. from a worktree of that commit:

    git worktree add /tmp/release effdec4
    PYTHONPATH=/tmp/release python scripts/make_upgrade_data.py /tmp/out
    tar -C /tmp/out -czf tests/data/upgrade/chdb-effdec4.tar.gz chdb

It uses only what that release already had: connect, migrate, the incident and
alert sinks, erase_report and apply_retention.
"""

from __future__ import annotations

import argparse
import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from geo import load_catalogue
from schemas import ReportKind
from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from schemas.rejection import DeadLetter, RejectReason
from streams.sinks.clickhouse.alert_table import ClickHouseAlertSink
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.erase import ErasureRequest, erase_report
from streams.sinks.clickhouse.events import ClickHouseIncidentSink
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.sinks.clickhouse.retention import Retention, apply_retention
from streams.stages.enrich import RawMessage, process_batch

AT = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
CLUSTER = "borderwatch-upgrade-fixture"


def interceptions() -> list[RawMessage]:
    """u-0 .. u-49 at Lampedusa, persons n + 1, over two months (the rebuild splits them by month)."""
    lines = [orjson.dumps({
        "authority": "ES-GC", "report_id": f"u-{n}", "observed_at": AT - timedelta(days=n),
        "lat": 35.5, "lon": 12.605, "incident_type": "irregular_crossing_attempt", "persons": n + 1,
        "notes": "old release",
    }) for n in range(50)]  # fmt: skip
    topic = "reports.interceptions"
    return [RawMessage(topic, 0, n, v, ReportKind.INTERCEPTION) for n, v in enumerate(lines)]


def vessels() -> list[RawMessage]:
    """Ten fixes of one vessel, v-0 .. v-9."""
    lines = [orjson.dumps({
        "authority": "ES-GC", "report_id": f"v-{n}", "observed_at": AT - timedelta(minutes=10 * n),
        "source": "ais", "lat": 35.5, "lon": 12.605 + n / 100, "mmsi": 224000001,
    }) for n in range(10)]  # fmt: skip
    return [RawMessage("reports.vessels", 0, n, v, ReportKind.VESSEL) for n, v in enumerate(lines)]


def write(directory: Path) -> None:
    client = connect(f"chdb://{(directory / 'chdb').resolve()}")
    migrate(client, "borderwatch")
    apply_retention(client, "borderwatch", Retention())
    sink = ClickHouseIncidentSink(client, "borderwatch")
    sink.open_log(CLUSTER)
    sink.write_events(process_batch(interceptions(), load_catalogue(), AT).events)
    sink.write_events(process_batch(vessels(), load_catalogue(), AT).events)
    sink.write_rejects([DeadLetter(
        reason=RejectReason.INVALID_JSON, detail="not JSON", source_topic="reports.interceptions",
        source_partition=0, source_offset=100 + n, received_at=AT, raw_b64=base64.b64encode(b"{no").decode(),
    ) for n in range(7)])  # fmt: skip
    ClickHouseAlertSink(client, "borderwatch").write_alerts([Alert(
        id="surge:IT-LAMPEDUSA", version=1, kind=AlertKind.SURGE, status=AlertStatus.NEW, impact=Impact.HIGH,
        confidence=0.9, zone_id="IT-LAMPEDUSA", route="Central Mediterranean", window_start=AT,
        window_end=AT, headline="Surge", description="d", opened_at=AT, sent_at=AT,
        event_ids=["ES-GC:u-0", "ES-GC:u-1"],
    )])  # fmt: skip
    # One erased report: its tombstone and the counts' negative row must survive the upgrade.
    erase_report(client, "borderwatch", ErasureRequest(authority="ES-GC", report_id="u-49"))
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a new directory; the data dir is written to OUT/chdb")
    write(parser.parse_args().out)


if __name__ == "__main__":
    main()
