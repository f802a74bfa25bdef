"""Fixtures for changelog compatibility: table values and detect-topic messages as the code writes them.

Runs a small, realistic day and a half of reports through the real pipeline
(validation and enrichment, `split_for_detection`, `TrackDetector` and
`CellDetector` with dict tables) and writes what the detectors would put in
their changelogs and what ingest publishes to the detect topics, byte for byte,
under tests/data/changelog/. tests/unit/detect/test_changelog_compat.py reads
them back with the current code. Run once, from the checkout, before changing
the state's types; record the commit in PROVENANCE.md:

    .venv/bin/python scripts/make_changelog_fixtures.py
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from geo.catalogue import builtin_path, load_catalogue
from geo.ports import load_ports
from schemas.codec import encode_obj
from schemas.events import ReportKind
from streams.detect.clock import clocks_from_json, clocks_to_json
from streams.detect.columns import DetectBatch, decode_cells, split_for_detection
from streams.detect.crossings import CrossingHistory, CrossingState
from streams.detect.encounters import CellState
from streams.detect.grouping import is_group
from streams.detect.runtime import CELL_CLOCKS, TRACK_CLOCKS, CellDetector, TrackDetector
from streams.detect.thresholds import Thresholds
from streams.detect.vessels import VesselState
from streams.detect.watchlist import WatchListFile
from streams.stages.enrich import RawMessage, process_batch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "changelog"
PARTITIONS = 2
T = Thresholds()
T0 = datetime(2026, 11, 22, tzinfo=UTC).timestamp()
H = 3600.0
CATALOGUE = load_catalogue(builtin_path())
KINDS = {c: str(p["kind"]) for c, p in zip(CATALOGUE.crossings.ids, CATALOGUE.crossings.props)}
SOUTH = (35.993, -3.525)  # cell 719:-71, near the edge of 720:-71
NORTH = (36.0005, -3.525)  # cell 720:-71, just past the edge
TABLES = ("vessels", "crossings", "crossing_history", "track_groups", "track_clocks", "cells",
          "cell_groups", "cell_clocks")  # fmt: skip
PER_TABLE = 24  # distinct values kept per table: the first of each kind, then spread over the run


def kind_of(table: str, value: Any) -> Any:
    """What sets a table's values apart, so that the fixtures hold one of each."""
    if table.endswith("groups"):
        return value["kind"], value.get("resolved"), value["emitted"], value["version"] > 1
    if table == "crossings":
        return bool(value["minutes"]), any(ids for *_, ids in value["hours"])
    if table == "crossing_history":
        return bool(value["days"])
    if table == "cells":
        return tuple(sorted({(r[4], len(r) == 6 and r[5] is None) for r in value["pairs"].values()}))
    return None


def offset(lat: float, lon: float, north_m: float, east_m: float = 0.0) -> tuple[float, float]:
    d_lat = math.degrees(north_m / 6_371_008.8)
    return lat + d_lat, lon + math.degrees(east_m / 6_371_008.8) / math.cos(math.radians(lat))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def vessel(mmsi: int, ts: float, at: tuple[float, float], sog: float | None, n: int) -> tuple[float, Any]:
    report: dict[str, Any] = {
        "report_id": f"V{mmsi}-{n}", "authority": "EMSA", "source": "ais", "observed_at": _iso(ts),
        "lat": at[0], "lon": at[1], "mmsi": mmsi,
    }  # fmt: skip
    if sog is not None:
        report["sog"] = sog
    if mmsi == 224000003:
        report.update(name="BLUE STAR", callsign="EA1234", vessel_type="fishing", imo=9074729)
    return ts, (ReportKind.VESSEL, report)


def interception(crossing: str, ts: float, persons: int, n: int, late_s: float = 0.0) -> tuple[float, Any]:
    report = {
        "report_id": f"I-{crossing}-{n}", "authority": "ES-GC", "observed_at": _iso(ts),
        "reported_at": _iso(ts + late_s), "crossing_id": crossing,
        "incident_type": "interception_at_sea" if crossing.startswith("IT") else "irregular_crossing_attempt",
        "persons": persons,
    }  # fmt: skip
    return ts + late_s, (ReportKind.INTERCEPTION, report)


def reports() -> list[tuple[float, Any]]:
    """(arrival time, report) of the scenario, in arrival order."""
    out: list[tuple[float, Any]] = []
    a, b, c, d, g = 224000001, 224000002, 224000003, 224000004, 224000005
    dark_ts = T0 + 601
    for m in range(11):  # a and b meet at SOUTH for 10 min: an encounter; b's first fix has no speed
        out.append(vessel(a, T0 + m * 60, SOUTH, 0.5, m))
        out.append(vessel(b, T0 + m * 60 + 1, offset(*SOUTH, 400), None if m == 0 else 1.0, m))
    back = dark_ts + 3 * H  # ... go dark together, and come back in the next cell: a first, b 2 min later
    out.append(vessel(a, back, NORTH, 0.3, 20))
    out.append(vessel(b, back + 121, offset(*NORTH, 300), 0.4, 20))
    for m in range(3, 8):
        out.append(vessel(a, back + m * 60, NORTH, 0.3, 20 + m))
    out.append(vessel(b, back + 481, offset(*NORTH, 300, 2000), 9.0, 30))  # b leaves
    for m in range(0, 7 * 6 + 1):  # c drifts slowly 1.5 km west of SOUTH for 7 h: a loiterer, watched
        out.append(vessel(c, T0 + m * 600 + 5, offset(*SOUTH, 0, -1500 - 5 * m), 0.2, m))
    out.append(vessel(d, T0 + 30, (36.1, -3.2), 7.0, 0))  # d reports twice and goes silent: an AIS gap
    out.append(vessel(d, T0 + 330, (36.1, -3.19), 7.0, 1))
    out.append(vessel(g, T0 + 40, (36.2, -3.0), 12.0, 0))  # g jumps 40 km in a minute
    out.append(vessel(g, T0 + 100, (36.2, -2.55), 12.0, 1))
    for n in range(12):  # a mass attempt at a fence: 12 reports of 10 in 6 min
        out.append(interception("ES-CEUTA-LAND", T0 + 2 * H + n * 30, 10, n))
    for n in range(6):  # a sea crossing on the day before and this day, some reported hours late
        out.append(interception("IT-LAMPEDUSA", T0 - 20 * H + n * 2 * H, 20 + n, n, late_s=3 * H * (n % 2)))
    for n in range(4):
        out.append(interception("IT-LAMPEDUSA", T0 + 28 * H + n * H, 15, 10 + n))
    for n in range(3):
        out.append(interception("IT-LAMPEDUSA", T0 + 3 * H + n * H, 8, 30 + n))
    for n in range(2):  # three days on: the first days close and become learned history
        out.append(interception("IT-LAMPEDUSA", T0 + 74 * H + n * H, 12, 20 + n))
        out.append(interception("ES-CEUTA-LAND", T0 + 74 * H + n * H, 4, 20 + n))
    out.append(vessel(c, T0 + 30 * H, offset(*SOUTH, 0, -1800), 0.2, 99))
    out.sort(key=lambda item: item[0])
    return out


def batches(items: list[tuple[float, Any]]) -> list[tuple[float, list[Any]]]:
    """Reports arriving within the same minute make one ingest batch."""
    by_minute: dict[int, list[Any]] = defaultdict(list)
    for arrival, report in items:
        by_minute[int(arrival // 60)].append((arrival, report))
    return [(max(a for a, _ in rs) + 1, [r for _, r in rs]) for _, rs in sorted(by_minute.items())]


def decoded_and_encoded(table: str, value: Any) -> bytes:
    """What this code writes back after reading a value from the changelog (recovery, then a write)."""
    if table == "vessels":
        return encode_obj(VesselState.unpack(value.encode("latin-1")).pack().decode("latin-1"))
    if table == "cells":
        return encode_obj(CellState.from_json(value).to_json())
    if table == "crossings":
        return encode_obj(CrossingState.from_json(value).to_json())
    if table == "crossing_history":
        return encode_obj(CrossingHistory.from_json(value).to_json())
    if table.endswith("clocks"):
        names = TRACK_CLOCKS if table == "track_clocks" else CELL_CLOCKS
        return encode_obj(clocks_to_json(clocks_from_json(value, names)))
    assert is_group(value)
    return encode_obj(value)


def main() -> None:
    ports = load_ports()
    with tempfile.TemporaryDirectory() as tmp:
        watch_path = Path(tmp) / "watch.csv"
        watch_path.write_text("mmsi,name,reason\n224000003,,smuggling\n")
        tracks = TrackDetector(T, CATALOGUE, ports, WatchListFile(watch_path), PARTITIONS)
        cells = CellDetector(T, ports, PARTITIONS)
        tables: dict[str, dict[str, Any]] = {name: {} for name in TABLES}
        seen: dict[str, dict[bytes, bytes]] = {name: {} for name in TABLES}  # value -> key, first seen
        firsts: dict[str, dict[Any, bytes]] = {name: {} for name in TABLES}  # kind -> its first value
        messages: list[tuple[str, int, bytes]] = []
        ingested: list[bytes] = []  # batch, wall time, kind, report: the input of the messages
        for n, (wall_now, raws) in enumerate(batches(reports())):
            msgs = [RawMessage("events.raw", 0, i, orjson.dumps(r), kind) for i, (kind, r) in enumerate(raws)]
            ingested += [
                f"{n}\t{wall_now!r}\t{m.kind.value}\t".encode() + (m.value or b"") + b"\n" for m in msgs
            ]
            result = process_batch(msgs, CATALOGUE, datetime.fromtimestamp(wall_now, UTC))
            assert not result.dead_letters, result.dead_letters
            track_msgs, cell_msgs = split_for_detection(
                result.events, KINDS, PARTITIONS, T.encounter_distance_m
            )
            messages += [("tracks", n, raw) for _, raw in track_msgs]
            messages += [("cells", n, raw) for _, raw in cell_msgs]
            for p, raw in track_msgs:
                tracks.on_batch(p, DetectBatch.decode(raw), wall_now, *(tables[name] for name in TABLES[:5]))
            for p, raw in cell_msgs:
                cells.on_batch(p, decode_cells(raw), wall_now, *(tables[name] for name in TABLES[5:]))
            for name, table in tables.items():
                for key, value in table.items():
                    raw = encode_obj(value)
                    seen[name].setdefault(raw, encode_obj(key))
                    firsts[name].setdefault(kind_of(name, value), raw)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, values in seen.items():
        records = list(values.items())
        if name != "cells" and len(records) > PER_TABLE:
            chosen = set(firsts[name].values())
            step = len(records) / PER_TABLE
            chosen.update(records[int(i * step)][0] for i in range(PER_TABLE - len(chosen)))
            chosen.add(records[-1][0])
            records = [r for r in records if r[0] in chosen]
        # One record a line: the changelog key's bytes, a tab, the value's bytes (orjson writes no
        # newline), a tab, and the bytes of the value read back and written again.
        lines = b"".join(
            key + b"\t" + value + b"\t" + decoded_and_encoded(name, orjson.loads(value)) + b"\n"
            for value, key in records
        )
        (OUT / f"{name}.tsv").write_bytes(lines)
    kept = [m for m in messages if m[0] == "cells"][:8] + [m for m in messages if m[0] == "tracks"]
    (OUT / "detect_messages.tsv").write_bytes(
        b"".join(f"{topic}\t{n}\t".encode() + raw + b"\n" for topic, n, raw in kept)
    )
    (OUT / "ingest_batches.tsv").write_bytes(b"".join(ingested))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    print(f"written under {OUT.relative_to(ROOT)} by commit {commit.strip()}")
    for path in sorted(OUT.glob("*.tsv")):
        print(f"  {path.name}: {len(path.read_bytes().splitlines())} records, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
