"""The detect batches the ingest stage publishes: partitioned like their keys, round-tripping exactly."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import orjson
import pytest

from geo.catalogue import builtin_path, load_catalogue
from schemas.events import ReportKind
from streams.detect.columns import DetectBatch, decode_cells, partition_of, split_for_detection
from streams.detect.encounters import CELL_DEG
from streams.stages.enrich import RawMessage, process_batch

CATALOGUE = load_catalogue(builtin_path())
NOW = datetime(2026, 11, 23, tzinfo=UTC)
KINDS = {c: str(p["kind"]) for c, p in zip(CATALOGUE.crossings.ids, CATALOGUE.crossings.props)}


def events(*reports: tuple[ReportKind, dict]) -> list:
    messages = [RawMessage("t", 0, n, orjson.dumps(r), kind) for n, (kind, r) in enumerate(reports)]
    return process_batch(messages, CATALOGUE, NOW).events


def vessel(
    mmsi: int, lat: float, lon: float, sog: float | None = None
) -> tuple[ReportKind, dict[str, object]]:
    report: dict[str, object] = {
        "report_id": f"V{mmsi}", "authority": "EMSA", "source": "ais", "observed_at": "2026-11-22T01:00:00Z",
        "lat": lat, "lon": lon, "mmsi": mmsi,
    }  # fmt: skip
    if sog is not None:
        report["sog"] = sog
    return ReportKind.VESSEL, report


def test_fixes_go_to_their_vessels_partition_and_sightings_to_their_crossings() -> None:
    interception = (ReportKind.INTERCEPTION, {
        "report_id": "I1", "authority": "IT-GDF", "observed_at": "2026-11-22T01:00:00Z",
        "crossing_id": "IT-LAMPEDUSA", "incident_type": "interception_at_sea", "persons": 30,
    })  # fmt: skip
    batch = events(vessel(224000001, 35.95, -3.55, 4.5), vessel(224000002, 36.5, 4.0), interception)
    tracks, _ = split_for_detection(batch, KINDS, 4, 500.0)
    decoded = {p: DetectBatch.decode(raw) for p, raw in tracks}
    for mmsi in (224000001, 224000002):
        assert f"mmsi:{mmsi}" in decoded[partition_of(f"mmsi:{mmsi}", 4)].fixes["vessel"]
    lampedusa = decoded[partition_of("IT-LAMPEDUSA", 4)].sightings
    assert (lampedusa["crossing"], lampedusa["crossing_kind"], lampedusa["persons"]) == (
        ["IT-LAMPEDUSA"],
        ["sea_sector"],
        [30],
    )
    sogs = [s for b in decoded.values() for s in b.fixes["sog"]]
    assert 4.5 in sogs and any(math.isnan(s) for s in sogs)  # an unknown speed survives the JSON trip


def test_a_fix_near_a_cell_edge_is_also_sent_to_the_neighbouring_cell() -> None:
    edge = 36.0 - 100 / 111_000  # 100 m south of a cell edge, within the 500 m meeting distance
    middle = 36.0 + CELL_DEG / 2
    _, cells = split_for_detection(
        events(vessel(224000001, edge, -3.52), vessel(224000002, middle, -3.52)), KINDS, 4, 500.0
    )
    rows = [decode_cells(raw).rows for _, raw in cells]
    seen = [(v, c, h) for r in rows for v, c, h in zip(r["vessel"], r["cell"], r["home"])]
    assert sorted(h for v, _, h in seen if v == "mmsi:224000001") == [False, True]
    assert [h for v, _, h in seen if v == "mmsi:224000002"] == [True]


def test_every_partition_hears_the_batchs_newest_fix_and_a_message_of_before_reads_without_it() -> None:
    early = vessel(224000001, 35.95, -3.55, 4.5)
    late = (ReportKind.VESSEL, {**vessel(224000002, 36.5, 4.0)[1], "observed_at": "2026-11-22T01:20:00Z"})
    tracks, cells = split_for_detection(events(early, late), KINDS, 4, 500.0)
    newest = datetime(2026, 11, 22, 1, 20, tzinfo=UTC).timestamp()
    assert [p for p, _ in tracks] == [p for p, _ in cells] == [0, 1, 2, 3]
    assert {DetectBatch.decode(raw).newest_fix_ts for _, raw in tracks} == {newest}
    assert {decode_cells(raw).newest_fix_ts for _, raw in cells} == {newest}
    before = orjson.loads(tracks[0][1])
    before.pop("newest_fix_ts")
    assert DetectBatch.decode(orjson.dumps(before)).newest_fix_ts is None
    assert DetectBatch.decode(DetectBatch().encode()).newest_fix_ts is None  # a tick, as before
    assert split_for_detection([], KINDS, 4, 500.0) == ([], [])
    for hostile in ("soon", True, [1.0], {"ts": 1.0}):
        with pytest.raises(ValueError, match="newest_fix_ts"):
            DetectBatch.decode(orjson.dumps({**before, "newest_fix_ts": hostile}))


def test_interception_reports_alone_go_to_their_crossings_partitions_only() -> None:
    interception = (ReportKind.INTERCEPTION, {
        "report_id": "I1", "authority": "IT-GDF", "observed_at": "2026-11-22T01:00:00Z",
        "crossing_id": "IT-LAMPEDUSA", "incident_type": "interception_at_sea", "persons": 30,
    })  # fmt: skip
    tracks, cells = split_for_detection(events(interception), KINDS, 4, 500.0)
    assert [p for p, _ in tracks] == [partition_of("IT-LAMPEDUSA", 4)] and cells == []
    assert DetectBatch.decode(tracks[0][1]).newest_fix_ts is None
