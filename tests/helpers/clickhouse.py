"""ClickHouse sink test helpers: reports, dead letters, an older release's database, a killed client."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from geo import load_catalogue
from schemas import ReportKind
from schemas.rejection import DeadLetter, RejectReason
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.events import ClickHouseIncidentSink
from streams.sinks.clickhouse.migrations import m0013_events_by_month
from streams.sinks.clickhouse.migrations.runner import MIGRATIONS, migrate
from streams.stages.enrich import Enriched, RawMessage, process_batch

AT = datetime(2026, 11, 22, 3, 14, tzinfo=UTC)
CATALOGUE = load_catalogue()


def letter(offset: int, partition: int = 0, topic: str = "reports.interceptions") -> DeadLetter:
    """A dead letter (not JSON) read at `offset` of `topic`'s `partition`."""
    return DeadLetter(
        reason=RejectReason.INVALID_JSON, detail="not JSON", source_topic=topic, source_partition=partition,
        source_offset=offset, received_at=AT, raw_b64=base64.b64encode(b"\xff").decode(),
    )  # fmt: skip


def report(offset: int, report_id: str) -> Enriched:
    """An interception report of 3 persons read at `offset`, enriched."""
    value = orjson.dumps({
        "authority": "ES-GC", "report_id": report_id, "observed_at": "2026-11-22T03:14:00Z",
        "incident_type": "irregular_crossing_attempt", "persons": 3, "lat": 35.5, "lon": 12.605,
    })  # fmt: skip
    message = RawMessage("reports.interceptions", 0, offset, value, ReportKind.INTERCEPTION)
    (event,) = process_batch([message], CATALOGUE, AT).events
    return event


def interception(report_id: str, persons: int) -> RawMessage:
    """An interception report of `persons` persons on 2026-11-20, as read at offset 99."""
    line = orjson.dumps({"authority": "ES-GC", "report_id": report_id, "observed_at": "2026-11-20T03:00:00Z",
                         "lat": 35.5, "lon": 12.605, "incident_type": "irregular_crossing_attempt",
                         "persons": persons})  # fmt: skip
    return RawMessage("reports.interceptions", 0, 99, line, ReportKind.INTERCEPTION)


def vessel_fix(report_id: str) -> RawMessage:
    """An AIS vessel fix at offset 0 of reports.vessels."""
    line = orjson.dumps({"authority": "ES-GC", "report_id": report_id, "observed_at": "2026-11-20T03:00:00Z",
                         "source": "ais", "lat": 35.5, "lon": 12.605, "mmsi": 224000001})  # fmt: skip
    return RawMessage("reports.vessels", 0, 0, line, ReportKind.VESSEL)


class KilledAt:
    """A client that dies (as a killed process would) at the first statement starting with `at`."""

    def __init__(self, client: Client, at: str) -> None:
        self._client, self._at = client, at

    def command(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql.startswith(self._at):
            raise OSError(f"killed before: {sql[:60]}")
        return self._client.command(sql, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def migrate_before(client: Client, db: str, version: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Migrate `db` as the release before migration `version` did: every migration up to it."""
    with monkeypatch.context() as patch:
        older = {v: step for v, step in MIGRATIONS.items() if v < version}
        patch.setattr("streams.sinks.clickhouse.migrations.runner.MIGRATIONS", older)
        migrate(client, db)


def old_release(engine_dir: Path, db: str, monkeypatch: pytest.MonkeyPatch) -> Client:
    """A client on `db` as the release before the rebuild by month made it: every migration but
    that one, and 20 interceptions and 5 vessel fixes in it."""
    client = connect(f"chdb://{engine_dir}")
    client.command(f"DROP DATABASE IF EXISTS {db}")
    migrate_before(client, db, m0013_events_by_month.VERSION, monkeypatch)
    lines = [orjson.dumps({
        "authority": "ES-GC", "report_id": f"r-{n}",
        "observed_at": f"2026-{10 + n % 2}-0{1 + n % 9}T03:00:00Z",
        "lat": 35.5, "lon": 12.605, "incident_type": "irregular_crossing_attempt", "persons": n + 1,
    }) for n in range(20)] + [orjson.dumps({
        "authority": "ES-GC", "report_id": f"v-{n}", "observed_at": "2026-11-01T03:00:00Z", "source": "ais",
        "lat": 35.5, "lon": 12.6 + n / 100, "mmsi": 224000001,
    }) for n in range(5)]  # fmt: skip
    messages = [
        RawMessage(f"reports.{'vessels' if line.find(b'mmsi') > 0 else 'interceptions'}", 0, n, line,
                   ReportKind.VESSEL if line.find(b"mmsi") > 0 else ReportKind.INTERCEPTION)
        for n, line in enumerate(lines)
    ]  # fmt: skip
    ClickHouseIncidentSink(client, db).write_events(process_batch(messages, CATALOGUE, AT).events)
    return client
