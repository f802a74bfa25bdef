"""Probe: placeholder vessel identities key no track; the report is kept, flagged and tracked alone."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from geo.catalogue import builtin_path, load_catalogue
from geo.ports import load_ports
from schemas import ReportKind, VesselReport
from schemas.identity import is_trackable_mmsi, is_unidentified, is_valid_imo, vessel_track_key
from streams.detect.columns import DetectBatch, decode_cells, split_for_detection
from streams.detect.thresholds import Thresholds
from streams.detect.vessels import VesselContext, find_gaps, track_vessels
from streams.detect.watchlist import WatchList
from streams.sinks.clickhouse.columns import EVENT_COLUMNS, event_columns
from streams.stages.enrich import RawMessage, process_batch

CATALOGUE = load_catalogue(builtin_path())
NOW = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    "mmsi",
    [
        224_000_001, 201_000_000, 775_999_999,  # ship stations, MID 201-775
        111_224_123,  # SAR aircraft
        982_241_234,  # craft associated with a parent ship
        992_241_234,  # aid to navigation
        822_412_345,  # handheld VHF
        970_012_345, 972_012_345, 974_012_345,  # AIS-SART, MOB, EPIRB-AIS
        351_759_000, 244_270_489, 366_989_380,  # from the public pyais samples in tests/data/ais
    ],
)  # fmt: skip
def test_mmsis_that_name_one_station_key_its_track(mmsi: int) -> None:
    assert is_trackable_mmsi(mmsi)
    assert vessel_track_key(mmsi, None, None, "EMSA", "r1") == f"mmsi:{mmsi}"


@pytest.mark.parametrize(
    "mmsi",
    [
        0, 1, 999_999_999, 123_456_789, 987_654_321, 111_111_111, 222_222_222,
        200_000_000, 776_000_000,  # MID out of range
        786_434,  # 000786434, a coast-station form with no valid MID (seen in the pyais AIShub sample)
        22_400_010,  # 022400010: a group call, no single vessel
        2_240_001,  # 002240001: a coast station
        111_111_123, 981_234_567, 991_234_567, 812_345_678, 971_000_000, 100_000_000,
    ],
)  # fmt: skip
def test_placeholder_and_out_of_range_mmsis_key_nothing(mmsi: int) -> None:
    assert not is_trackable_mmsi(mmsi)
    key = vessel_track_key(mmsi, None, None, "EMSA", "r1")
    assert key == "unidentified:EMSA:r1" and is_unidentified(key)


def test_imo_numbers_need_seven_digits_and_their_check_digit() -> None:
    # 9074729: 9*7 + 0*6 + 7*5 + 4*4 + 7*3 + 2*2 = 139, check digit 9.
    assert is_valid_imo(9074729) and is_valid_imo(9134270)
    for imo in (0, 9074728, 9074720, 907472, 1_000_000, 10_000_000, 1_234_567):
        assert not is_valid_imo(imo), imo


def test_the_key_falls_back_past_a_placeholder_to_the_next_real_identity() -> None:
    assert vessel_track_key(0, 9074729, "T1", "EMSA", "r1") == "imo:9074729"
    assert vessel_track_key(999_999_999, 0, "T1", "EMSA", "r1") == "track:T1"
    assert vessel_track_key(None, 1234567, None, "EMSA", "r1") == "unidentified:EMSA:r1"


def vessel(report_id: str, mmsi: int, hour: int, lat: float = 35.95, **more: Any) -> RawMessage:
    report = {
        "report_id": report_id, "authority": "EMSA", "source": "ais",
        "observed_at": f"2026-11-22T{hour:02d}:00:00Z", "lat": lat, "lon": -3.55, "mmsi": mmsi, **more,
    }  # fmt: skip
    return RawMessage("reports.vessels", 0, hour, orjson.dumps(report), ReportKind.VESSEL)


def test_placeholder_reports_are_stored_flagged_and_never_merged_into_one_track() -> None:
    # Two "vessels" with MMSI 0, 100 km apart an hour later: one track would be a 54 kn jump.
    messages = [vessel("a", 0, 1), vessel("b", 0, 2, lat=36.85), vessel("c", 0, 3, imo=1234567)]
    events = process_batch(messages, CATALOGUE, NOW).events
    assert len(events) == 3 and not process_batch(messages, CATALOGUE, NOW).dead_letters  # all kept
    keys = [e.key for e in events]
    assert keys == ["unidentified:EMSA:a", "unidentified:EMSA:b", "unidentified:EMSA:c"]
    assert all(isinstance(e.report, VesselReport) and e.report.mmsi == 0 for e in events)  # as sent
    stored = dict(zip(EVENT_COLUMNS, event_columns(events, "")))
    assert stored["vessel_key"] == keys  # the flag analysts see in events and vessel_positions

    tracks, cells = split_for_detection(events, {}, 4, 500.0)
    fixes = [DetectBatch.decode(raw).fixes for _, raw in tracks]
    assert sorted(v for f in fixes for v in f["vessel"]) == keys  # the fixes still go (watch list)
    assert all(not decode_cells(raw).rows["vessel"] for _, raw in cells)  # but meet no one

    ctx = VesselContext(Thresholds(), CATALOGUE.crossings, load_ports(), WatchList())
    merged: dict[str, list[Any]] = {k: [v for f in fixes for v in f[k]] for k in fixes[0]}
    order = sorted(range(3), key=merged["ts"].__getitem__)
    merged = {k: [vs[i] for i in order] for k, vs in merged.items()}
    states, found, transitions = track_vessels(merged, {}, ctx)
    assert (states, found, transitions) == ({}, [], [])  # no track, no speed, no state to go dark
    assert find_gaps(states.items(), merged["ts"][-1] + 10 * 86_400, Thresholds())[1] == []


def test_a_real_vessel_still_makes_one_track() -> None:
    messages = [vessel("a", 224_000_001, 1), vessel("b", 224_000_001, 2, lat=36.85)]
    events = process_batch(messages, CATALOGUE, NOW).events
    assert {e.key for e in events} == {"mmsi:224000001"}
    tracks, _ = split_for_detection(events, {}, 4, 500.0)
    (fixes,) = [b.fixes for b in map(DetectBatch.decode, (raw for _, raw in tracks)) if b.fixes["ts"]]
    ctx = VesselContext(Thresholds(), CATALOGUE.crossings, load_ports(), WatchList())
    states, found, _ = track_vessels(fixes, {}, ctx)
    assert list(states) == ["mmsi:224000001"] and any(f.kind == "implausible_speed" for f in found)
    assert not math.isnan(states["mmsi:224000001"].lat)
