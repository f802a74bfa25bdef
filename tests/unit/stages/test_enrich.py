"""The pure ingest pipeline: validate, enrich, dead letters and in-batch duplicates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from geo import load_catalogue
from schemas import ReportKind, ReportLimits
from schemas.rejection import RejectReason
from streams.stages import enrich as pipeline
from streams.stages.enrich import RawMessage, first_copies, process_batch

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
    wire = EnrichedEvent.model_validate_json(event.to_wire(with_notes=True))
    assert wire.report == event.report
    assert (wire.crossing_id, wire.country, wire.route) == ("IT-LAMPEDUSA", "ITA", "Central Mediterranean")
    assert (wire.source.topic, wire.source.partition, wire.source.offset) == ("reports.interceptions", 1, 4)
    assert wire.received_at == NOW


def test_notes_stay_out_of_the_enriched_message_and_the_detectors_input_unless_shared() -> None:
    from schemas.events import EnrichedEvent
    from streams.detect.columns import split_for_detection

    notes = "skipper named Ahmed K., phone +212 600 000 000"
    raw = orjson.dumps({**BASE, "report_id": "n1", "lat": 35.5, "lon": 12.605, "notes": notes})
    event = process_batch([message(5, raw)], CATALOGUE, NOW).events[0]
    plain = event.to_wire()
    assert b"Ahmed" not in plain and b'"notes"' not in plain
    wire = EnrichedEvent.model_validate_json(plain)
    assert wire.report == event.report.model_copy(update={"notes": None})
    assert notes in EnrichedEvent.model_validate_json(event.to_wire(with_notes=True)).report.notes  # type: ignore[union-attr, operator]
    kinds = {c: str(p["kind"]) for c, p in zip(CATALOGUE.crossings.ids, CATALOGUE.crossings.props)}
    tracks, cells = split_for_detection([event], kinds, 4, 500.0)
    assert tracks and all(b"Ahmed" not in value for _, value in tracks + cells)


def test_a_fault_on_one_message_dead_letters_only_that_message(monkeypatch: pytest.MonkeyPatch) -> None:
    poison = orjson.dumps({**BASE, "report_id": "poison", "lat": 35.5, "lon": 12.605})
    real = pipeline.validate_report

    def breaks_on_poison(raw: bytes | None, *args: Any, **kwargs: Any) -> Any:
        if raw == poison:
            raise RuntimeError("validator bug " + "x" * 500)
        return real(raw, *args, **kwargs)

    monkeypatch.setattr(pipeline, "validate_report", breaks_on_poison)
    good = [orjson.dumps({**BASE, "report_id": f"g{i}", "lat": 35.5, "lon": 12.605}) for i in range(2)]
    batch = [message(0, good[0]), message(1, poison), message(2, b"{"), message(3, good[1])]
    result = process_batch(batch, CATALOGUE, NOW)
    assert [e.source.offset for e in result.events] == [0, 3]
    letters = [(d.reason, d.source_offset, d.raw) for d in result.dead_letters]
    assert letters == [(RejectReason.INTERNAL_ERROR, 1, poison), (RejectReason.INVALID_JSON, 2, b"{")]
    detail = result.dead_letters[0].detail
    assert detail.startswith("RuntimeError: validator bug xxx") and len(detail) <= 200


def test_a_failing_batch_lookup_falls_back_to_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    real = pipeline.locate

    def breaks_on_a_longitude(catalogue: Any, lon: Any, lat: Any) -> Any:
        if 13.0 in list(lon):
            raise ValueError("geometry bug")
        return real(catalogue, lon, lat)

    positions = [(35.5, 12.605), (35.889, -5.317), (35.5, 13.0), (41.7, 26.3)]
    batch = [message(i, orjson.dumps({**BASE, "report_id": f"p{i}", "lat": y, "lon": x}))
             for i, (y, x) in enumerate(positions)]  # fmt: skip
    batch.append(message(9, orjson.dumps({**BASE, "report_id": "hint", "crossing_id": "GR-EVROS-LAND"})))
    batch.append(message(10, b""))
    expected = process_batch(batch[:2] + batch[3:], CATALOGUE, NOW)
    monkeypatch.setattr(pipeline, "locate", breaks_on_a_longitude)
    result = process_batch(batch, CATALOGUE, NOW)
    # One by one places every healthy report exactly where the vectorised lookup does.
    placed = [(e.source.offset, e.crossing_id, e.country, e.route) for e in result.events]
    assert placed == [(e.source.offset, e.crossing_id, e.country, e.route) for e in expected.events]
    assert [e.source.offset for e in result.events] == [0, 1, 3, 9]
    letters = [(d.reason, d.source_offset) for d in result.dead_letters]
    assert letters == [(RejectReason.INTERNAL_ERROR, 2), (RejectReason.EMPTY_MESSAGE, 10)]
    assert result.dead_letters[0].detail == "ValueError: geometry bug"
    assert result.dead_letters[0].raw == batch[2].value


def test_the_limits_reach_validation() -> None:
    raw = orjson.dumps({**BASE, "report_id": "l1", "lat": 35.5, "lon": 12.605})
    assert process_batch([message(0, raw)], CATALOGUE, NOW).events
    strict = process_batch([message(0, raw)], CATALOGUE, NOW, limits=ReportLimits(max_persons=2))
    assert [(d.reason, d.field) for d in strict.dead_letters] == [(RejectReason.IMPLAUSIBLE_VALUE, "persons")]
