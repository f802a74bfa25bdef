"""Retention on a real engine (chdb): personal data goes at its TTL, the counts stay."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from geo import load_catalogue
from schemas import ReportKind
from schemas.rejection import DeadLetter, RejectReason
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.events import ClickHouseIncidentSink
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.sinks.clickhouse.repair import DerivedTableRepair
from streams.sinks.clickhouse.retention import Retention, apply_retention
from streams.stages.enrich import RawMessage, process_batch

DB = "bw_retention_unit"
NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=100)
CATALOGUE = load_catalogue()


def interception(report_id: str, received: datetime) -> bytes:
    return orjson.dumps({
        "authority": "ES-GC", "report_id": report_id, "observed_at": received - timedelta(hours=2),
        "incident_type": "irregular_crossing_attempt", "persons": 3, "lat": 35.5, "lon": 12.605,
        "persons_detail": {"nationalities": {"MA": 3}}, "notes": "the skipper gave his name",
    })  # fmt: skip


def vessel(report_id: str, received: datetime) -> bytes:
    return orjson.dumps({
        "authority": "ES-GC", "report_id": report_id, "observed_at": received - timedelta(hours=1),
        "source": "ais", "lat": 35.5, "lon": 12.605, "mmsi": 224000001, "name": "NUESTRA SENORA",
    })  # fmt: skip


def letter(offset: int, received: datetime) -> DeadLetter:
    return DeadLetter(
        reason=RejectReason.INVALID_JSON, detail="not JSON", source_topic="reports.interceptions",
        source_partition=0, source_offset=offset, received_at=received,
        raw_b64=base64.b64encode(b"a name, not JSON").decode(),
    )  # fmt: skip


def table_sql(client: object, table: str) -> str:
    return str(client.query(  # type: ignore[attr-defined]
        "SELECT create_table_query FROM system.tables WHERE database = %(db)s AND name = %(t)s",
        parameters={"db": DB, "t": table},
    ).result_rows[0][0])  # fmt: skip


def test_personal_data_goes_at_its_ttl_and_the_counts_stay(engine_dir: Path) -> None:
    client = connect(f"chdb://{engine_dir}")
    migrate(client, DB)
    sink = ClickHouseIncidentSink(client, DB)
    for report_id, received in (("old", OLD), ("new", NOW)):
        message = RawMessage(
            "reports.interceptions", 0, 0, interception(report_id, received), ReportKind.INTERCEPTION
        )
        position = RawMessage("reports.vessels", 0, 0, vessel(f"v-{report_id}", received), ReportKind.VESSEL)
        sink.write_events(process_batch([message, position], CATALOGUE, received).events)
    sink.write_rejects([letter(1, OLD), letter(2, NOW)])
    counts = f"SELECT sum(reports), sum(persons) FROM {DB}.crossing_counts"
    before = client.query(counts).result_rows
    positions = f"SELECT report_id FROM {DB}.vessel_positions ORDER BY report_id"
    assert client.query(positions).result_rows == [("v-new",), ("v-old",)]

    assert sorted(apply_retention(client, DB, Retention())) == [
        "events.nationalities", "events.report", "rejects.raw", "transitions", "vessel_positions",
    ]  # fmt: skip
    assert apply_retention(client, DB, Retention()) == []  # applied once, not at every start
    for table in ("events", "rejects", "vessel_positions"):
        client.command(f"OPTIMIZE TABLE {DB}.{table} FINAL")

    kept = client.query(
        f"SELECT report_id, report != '', length(mapKeys(nationalities)) FROM {DB}.events ORDER BY report_id"
    ).result_rows
    assert kept == [("new", True, 1), ("old", False, 0), ("v-new", True, 0), ("v-old", False, 0)]
    assert client.query(positions).result_rows == [("v-new",)]  # a position goes whole, at its own TTL
    repair = DerivedTableRepair(client, DB)
    assert repair.repair_derived(Retention().positions_days) == []  # gone by its TTL, not lost: not put back
    assert client.query(positions).result_rows == [("v-new",)]
    raws = client.query(f"SELECT source_offset, raw FROM {DB}.rejects ORDER BY 1").result_rows
    assert raws == [(1, ""), (2, "a name, not JSON")]
    assert client.query(counts).result_rows == before == [(2, 6)]
    assert "TTL toDateTime(ifNull(received_at, inserted_at)) + toIntervalDay(365)" in table_sql(
        client, "transitions"
    )


def test_zero_days_keeps_the_data_and_a_change_is_applied(engine_dir: Path) -> None:
    db_client = connect(f"chdb://{engine_dir}")
    migrate(db_client, DB)
    apply_retention(db_client, DB, Retention())
    assert apply_retention(db_client, DB, Retention(raw_days=0, rejects_days=30)) == [
        "events.report", "events.nationalities", "rejects.raw",
    ]  # fmt: skip
    assert "`report` String TTL" not in table_sql(db_client, "events")
    assert "`raw` String TTL toDateTime(received_at) + toIntervalDay(30)" in table_sql(db_client, "rejects")


@pytest.mark.parametrize("field", ["raw_days", "rejects_days", "positions_days", "transitions_days"])
def test_a_retention_out_of_range_is_refused(field: str) -> None:
    for days in (-1, 36_501):
        with pytest.raises(ValidationError):
            Retention(**{field: days})
