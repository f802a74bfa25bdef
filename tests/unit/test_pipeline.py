"""The pure ingest pipeline: validate, enrich, dead letters and in-batch duplicates."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from geo import load_catalogue
from schemas import ReportKind
from schemas.rejection import RejectReason
from streams.pipeline import RawMessage, first_copies, process_batch

CATALOGUE = load_catalogue()
NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
BASE = {"authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z",
        "incident_type": "irregular_crossing_attempt", "persons": 3}  # fmt: skip


def message(offset: int, value: bytes, kind: ReportKind = ReportKind.INTERCEPTION) -> RawMessage:
    topic = "reports.interceptions" if kind is ReportKind.INTERCEPTION else "reports.vessels"
    return RawMessage(topic=topic, partition=1, offset=offset, value=value, kind=kind)


def test_positions_are_located_and_hints_place_reports_without_one() -> None:
    batch = [
        message(0, orjson.dumps({**BASE, "report_id": "a", "lat": 35.5, "lon": 12.605})),
        message(1, orjson.dumps({**BASE, "report_id": "b", "crossing_id": "GR-EVROS-LAND"})),
        # A position wins over the hint.
        message(
            2,
            orjson.dumps(
                {
                    **BASE,
                    "report_id": "c",
                    "lat": 35.889,
                    "lon": -5.317,
                    "crossing_id": "GR-EVROS-LAND",
                }
            ),
        ),
    ]
    result = process_batch(batch, CATALOGUE, NOW)
    placed = [(e.crossing_id, e.country, e.route) for e in result.events]
    assert placed == [
        ("IT-LAMPEDUSA", "ITA", "Central Mediterranean"),
        ("GR-EVROS-LAND", "GRC", "Eastern Mediterranean"),
        ("ES-CEUTA-LAND", "ESP", "Western Mediterranean"),
    ]
    assert [e.source.offset for e in result.events] == [0, 1, 2]
    assert result.dead_letters == []


def test_rejects_keep_their_raw_bytes_and_source() -> None:
    raw = b'{"broken": '
    result = process_batch([message(7, raw), message(8, None)], CATALOGUE, NOW)  # type: ignore[arg-type]
    assert [(d.reason, d.source_offset, d.raw) for d in result.dead_letters] == [
        (RejectReason.INVALID_JSON, 7, raw),
        (RejectReason.EMPTY_MESSAGE, 8, b""),
    ]
    assert result.events == []


def test_vessels_are_keyed_by_identity_and_interceptions_by_report() -> None:
    vessel = {"report_id": "v1", "authority": "EMSA", "source": "ais",
              "observed_at": "2026-11-22T03:00:00Z", "lat": 36.0, "lon": -5.5, "imo": 9074729}  # fmt: skip
    batch = [message(0, orjson.dumps(vessel), ReportKind.VESSEL),
             message(1, orjson.dumps({**BASE, "report_id": "r1", "lat": 36.0, "lon": -5.5}))]  # fmt: skip
    keys = [e.key for e in process_batch(batch, CATALOGUE, NOW).events]
    assert keys == ["imo:9074729", "ES-GC:r1"]


def test_first_copies_keeps_the_first_of_each_report() -> None:
    line = orjson.dumps({**BASE, "report_id": "dup", "lat": 35.5, "lon": 12.605})
    other = orjson.dumps({**BASE, "report_id": "dup", "authority": "IT-GDF", "lat": 35.5, "lon": 12.605})
    events = process_batch([message(0, line), message(1, other), message(2, line)], CATALOGUE, NOW).events
    assert [e.source.offset for e in first_copies(events)] == [0, 1]


def test_the_enriched_wire_message_is_what_the_exported_schema_describes() -> None:
    from schemas.events import EnrichedEvent

    raw = orjson.dumps({**BASE, "report_id": "w1", "lat": 35.5, "lon": 12.605, "notes": "x"})
    event = process_batch([message(4, raw)], CATALOGUE, NOW).events[0]
    wire = EnrichedEvent.model_validate_json(event.to_wire())
    assert wire.report == event.report
    assert (wire.crossing_id, wire.country, wire.route) == ("IT-LAMPEDUSA", "ITA", "Central Mediterranean")
    assert (wire.source.topic, wire.source.partition, wire.source.offset) == ("reports.interceptions", 1, 4)
    assert wire.received_at == NOW
