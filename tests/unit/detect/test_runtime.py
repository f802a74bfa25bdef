"""The detect runtime on a meeting shaped like a real one: ingest, split and both detectors, in any batching.

The pair is shaped like moored pairs in public AIS samples (such as the NMEA
samples pyais tests with, /work/shared/data/ais): two vessels about 30 m apart
for three hours, one reporting every few seconds, the other every one to three
minutes, each fix a few metres off (GPS noise); both silent for 8 hours; back
together for two more hours; and one fix of the first vessel 730 m off, 10 s
after its previous one (142 kn: the jitter AIS has). They sit on the corner of
four grid cells, so their noise carries them across cell edges all the time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from geo.catalogue import builtin_path, load_catalogue
from geo.distance import distance_m, knots
from geo.ports import load_ports
from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from schemas.events import ReportKind
from streams.detect.columns import DetectBatch, decode_cells, split_for_detection
from streams.detect.encounters import cell_id
from streams.detect.runtime import CellDetector, TrackDetector
from streams.detect.thresholds import Thresholds
from streams.detect.watchlist import WatchListFile
from streams.stages.enrich import RawMessage, process_batch

T = Thresholds()
CATALOGUE = load_catalogue(builtin_path())
KINDS = {c: str(p["kind"]) for c, p in zip(CATALOGUE.crossings.ids, CATALOGUE.crossings.props)}
PORTS = load_ports()
H = 3600.0
T0 = datetime(2026, 11, 22, tzinfo=UTC).timestamp()
CORNER = (35.95, -3.55)  # Alboran Sea, far from ports: the corner of cells 718/719 by -72/-71
A, B = 224000001, 224000002
JITTER_TS = T0 + 5400.0
# Fix intervals in seconds, cycled: A as a class A transponder at anchor with a busy receiver, B slower.
STEPS_A = (6, 10, 10, 6, 60, 10, 180, 10)
STEPS_B = (10, 60, 180, 180, 120)
NOISE_M = (-5.0, 3.0, -1.0, 5.0, 0.0, -4.0, 2.0)


def _offset(north_m: float, east_m: float) -> tuple[float, float]:
    lat, lon = CORNER
    d_lat = math.degrees(north_m / 6_371_008.8)
    return lat + d_lat, lon + math.degrees(east_m / 6_371_008.8) / math.cos(math.radians(lat))


def _report(mmsi: int, ts: float, north_m: float, east_m: float, sog: float) -> dict[str, Any]:
    lat, lon = _offset(north_m, east_m)
    return {
        "report_id": f"{mmsi}-{ts:.0f}", "authority": "EMSA", "source": "ais", "mmsi": mmsi,
        "observed_at": datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z"),
        "lat": lat, "lon": lon, "sog": sog,
    }  # fmt: skip


def _track(mmsi: int, start: float, end: float, steps: tuple[int, ...], north_m: float) -> Iterator[tuple]:
    ts, n = start, 0
    while ts < end:
        noise = NOISE_M[n % len(NOISE_M)]
        yield ts, _report(mmsi, ts, north_m + noise, -noise, 0.0 if mmsi == A else 0.1)
        ts += steps[n % len(steps)]
        n += 1


def pair_feed() -> list[dict[str, Any]]:
    """The pair's reports in time order: together 3 h, dark 8 h, together 2 h, one jittered fix."""
    rows = []
    for start, end in ((T0, T0 + 3 * H), (T0 + 11 * H, T0 + 13 * H)):
        rows += _track(A, start, end, STEPS_A, 0.0)
        rows += _track(B, start + 3, end, STEPS_B, 30.0)
    before = max(ts for ts, r in rows if r["mmsi"] == A and ts < JITTER_TS)
    rows.append((before + 10, _report(A, before + 10, 730.0, 0.0, 0.0)))  # 730 m in 10 s: 142 kn
    return [r for _, r in sorted(rows, key=lambda row: row[0])]


def replay(reports: list[dict[str, Any]], batch_size: int) -> list[tuple[float, Alert]]:
    """Every alert state published, with the newest event time of the batch that raised it."""
    tracks = TrackDetector(T, CATALOGUE, PORTS, WatchListFile(None), partitions=1)
    cells = CellDetector(T, PORTS)
    track_tables: list[dict[str, Any]] = [{}, {}, {}, {}, {}]
    cell_tables: list[dict[str, Any]] = [{}, {}, {}]
    published = []
    for start in range(0, len(reports), batch_size):
        chunk = reports[start : start + batch_size]
        newest = max(datetime.fromisoformat(r["observed_at"]).timestamp() for r in chunk)
        wall = newest + 5  # live: the batch is read seconds after its newest fix
        messages = [RawMessage("v", 0, n, orjson.dumps(r), ReportKind.VESSEL) for n, r in enumerate(chunk)]
        events = process_batch(messages, CATALOGUE, datetime.fromtimestamp(wall, UTC)).events
        to_tracks, to_cells = split_for_detection(
            events, KINDS, 1, T.encounter_distance_m
        )
        for p, raw in to_tracks:
            published += [
                (newest, a) for a in tracks.on_batch(p, DetectBatch.decode(raw), wall, *track_tables).alerts
            ]
        for p, raw in to_cells:
            published += [(newest, a) for a in cells.on_batch(p, decode_cells(raw), wall, *cell_tables)]
    return published


@pytest.mark.parametrize("batch_size", [1, 40])
def test_a_moored_pair_is_one_encounter_raised_while_together_and_updated_after_the_dark(
    batch_size: int,
) -> None:
    published = replay(pair_feed(), batch_size)
    encounters = [(newest, a) for newest, a in published if a.kind is AlertKind.ENCOUNTER]
    assert len({a.id for _, a in encounters}) == 1
    first_seen, first = encounters[0]
    assert first.status is AlertStatus.NEW and first.notify and first.impact is Impact.HIGH
    assert first_seen < T0 + 3 * H  # raised while the pair is together, before the dark stretch
    dark_meeting = [
        a for newest, a in encounters if newest >= T0 + 11 * H and a.status is not AlertStatus.RESOLVED
    ]
    assert dark_meeting and dark_meeting[0].status is AlertStatus.UPDATED
    assert (
        dark_meeting[0].impact is Impact.VERY_HIGH
        and "went dark together for 8.0 h" in dark_meeting[0].description
    )
    # Whatever else the two vessels raise (loitering, AIS gaps, the jitter's implausible speed), the
    # encounter is there beside it, never replaced: its one id lasts from the first hour to the end.
    assert {a.version for _, a in encounters} == set(range(1, len(encounters) + 1))
    others = {a.kind for _, a in published} - {AlertKind.ENCOUNTER}
    assert others <= {AlertKind.LOITERING, AlertKind.AIS_GAP, AlertKind.IMPLAUSIBLE_SPEED}


def test_a_backfill_of_the_whole_feed_gives_the_same_one_encounter() -> None:
    reports = pair_feed()
    ids = {a.id for _, a in replay(reports, len(reports)) if a.kind is AlertKind.ENCOUNTER}
    live = {a.id for _, a in replay(reports, 1) if a.kind is AlertKind.ENCOUNTER}
    assert ids == live and len(ids) == 1


def test_the_jittered_fix_is_142_knots_and_the_pair_sits_on_a_cell_corner() -> None:
    reports = pair_feed()
    jitter = next(n for n, r in enumerate(reports) if r["lat"] > _offset(700, 0)[0])
    before = next(r for r in reversed(reports[:jitter]) if r["mmsi"] == A)
    seconds = datetime.fromisoformat(reports[jitter]["observed_at"]) - datetime.fromisoformat(
        before["observed_at"]
    )
    assert seconds.total_seconds() == 10
    moved = distance_m(before["lat"], before["lon"], reports[jitter]["lat"], reports[jitter]["lon"])
    assert 140 < knots(moved, 10) < 145
    assert len({cell_id(r["lat"], r["lon"]) for r in reports}) >= 3
