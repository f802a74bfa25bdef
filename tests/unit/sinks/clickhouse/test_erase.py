"""Erasure on a real engine (chdb): a report and what came of it go, its counts follow, and it stays gone."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from geo import load_catalogue
from schemas import ReportKind
from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from schemas.rejection import DeadLetter, RejectReason
from schemas.transitions import Direction, Transition
from streams.sinks.clickhouse.alert_table import ClickHouseAlertSink
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.erase import ErasureRequest, erase_report
from streams.sinks.clickhouse.events import ELSEWHERE, ClickHouseIncidentSink
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.sinks.clickhouse.repair import DerivedTableRepair
from streams.sinks.clickhouse.transition_table import ClickHouseTransitionSink
from streams.stages.enrich import Enriched, RawMessage, process_batch

DB = "bw_erase_unit"
NOW = datetime.now(UTC).replace(microsecond=0)
CATALOGUE = load_catalogue()
REPORT = {
    "authority": "ES-GC", "observed_at": (NOW - timedelta(hours=1)).isoformat(), "lat": 35.5, "lon": 12.605,
    "incident_type": "irregular_crossing_attempt", "persons": 5, "notes": "a name",
}  # fmt: skip


def events(*report_ids: str) -> list[Enriched]:
    lines = [orjson.dumps({**REPORT, "report_id": r}) for r in report_ids]
    messages = [
        RawMessage("reports.interceptions", 0, n, v, ReportKind.INTERCEPTION) for n, v in enumerate(lines)
    ]
    return process_batch(messages, CATALOGUE, NOW).events


def test_an_erased_report_leaves_with_what_came_of_it_and_a_copy_is_not_stored_again(
    engine_dir: Path,
) -> None:
    client = connect(f"chdb://{engine_dir}")
    migrate(client, DB)
    sink = ClickHouseIncidentSink(client, DB)
    sink.write_events(events("keep-1", "gone-1", "keep-2"))
    # The same report refused once (a correction sent with a bad count), naming it in its JSON.
    bad = orjson.dumps({**REPORT, "report_id": "gone-1", "persons": -1})
    sink.write_rejects([DeadLetter(
        reason=RejectReason.NEGATIVE_COUNT, field="persons", detail="negative",
        source_topic="reports.interceptions", source_partition=0, source_offset=9, received_at=NOW,
        raw_b64=base64.b64encode(bad).decode(),
    )])  # fmt: skip
    at = NOW - timedelta(hours=1)
    ClickHouseTransitionSink(client, DB).write_transitions([Transition(
        vessel_key="mmsi:224000103", zone_id="IT-LAMPEDUSA", direction=Direction.ENTER, observed_at=at,
        event_id="ES-GC:gone-1", lat=35.5, lon=12.605,
    )])  # fmt: skip
    ClickHouseAlertSink(client, DB).write_alerts([Alert(
        id="surge:IT-LAMPEDUSA", version=1, kind=AlertKind.SURGE, status=AlertStatus.NEW, impact=Impact.HIGH,
        confidence=0.9, zone_id="IT-LAMPEDUSA", route="Central Mediterranean", window_start=at, window_end=at,
        headline="Surge", description="d", opened_at=at, sent_at=at,
        event_ids=["ES-GC:keep-1", "ES-GC:gone-1"],
    )])  # fmt: skip
    counts = f"SELECT sum(reports), sum(persons) FROM {DB}.crossing_counts"
    assert client.query(counts).result_rows == [(3, 15)]

    erased = erase_report(client, DB, ErasureRequest(authority="ES-GC", report_id="gone-1"))
    assert erased.as_dict() == {
        "events": 1, "vessel_positions": 0, "rejects": 1, "transitions": 1, "alerts": 1,
    }  # fmt: skip
    assert client.query(counts).result_rows == [(2, 10)]
    left = client.query(f"SELECT report_id FROM {DB}.events ORDER BY report_id").result_rows
    assert left == [("keep-1",), ("keep-2",)]
    assert client.query(f"SELECT event_ids FROM {DB}.alerts FINAL").result_rows == [(["ES-GC:keep-1"],)]
    for table in ("rejects", "transitions"):
        assert client.query(f"SELECT count() FROM {DB}.{table}").result_rows == [(0,)], table
    assert DerivedTableRepair(client, DB).repair_derived() == []  # the counts and keys agree with the events

    # A resend of the erased report is a resend: not stored, not published again.
    copy = events("gone-1")
    assert sink.stored_sources(copy) == {("ES-GC", "gone-1"): ELSEWHERE}
    # Erasing again (a retried request) removes nothing more and does not count twice.
    again = erase_report(client, DB, ErasureRequest(authority="ES-GC", report_id="gone-1"))
    assert set(again.as_dict().values()) == {0}
    assert client.query(counts).result_rows == [(2, 10)]


def test_an_erased_vessel_report_leaves_its_position_and_its_key(engine_dir: Path) -> None:
    client = connect(f"chdb://{engine_dir}")
    migrate(client, db := f"{DB}_vessels")
    sink = ClickHouseIncidentSink(client, db)
    fix = {"authority": "ES-GC", "observed_at": REPORT["observed_at"], "source": "ais", "lat": 35.5,
           "mmsi": 224000001}  # fmt: skip
    fixes = [orjson.dumps({**fix, "report_id": f"fix-{n}", "lon": 12.605 + n / 100}) for n in range(2)]
    messages = [RawMessage("reports.vessels", 0, n, v, ReportKind.VESSEL) for n, v in enumerate(fixes)]
    sink.write_events(process_batch(messages, CATALOGUE, NOW).events)
    erased = erase_report(client, db, ErasureRequest(authority="ES-GC", report_id="fix-0"))
    assert (erased.events, erased.vessel_positions) == (1, 1)
    for table in ("events", "report_keys", "vessel_positions"):
        rows = client.query(f"SELECT report_id FROM {db}.{table}").result_rows
        assert rows == [("fix-1",)], table
    assert DerivedTableRepair(client, db).repair_derived() == []


@pytest.mark.parametrize(
    "body", [{"authority": "", "report_id": "r"}, {"authority": "A", "report_id": "r\n1"},
             {"authority": "A", "report_id": "r", "extra": 1}, {"authority": "A"},
             {"authority": "A" * 201, "report_id": "r"}],
)  # fmt: skip
def test_an_erasure_request_is_an_identity_a_report_could_carry(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ErasureRequest.model_validate(body)
