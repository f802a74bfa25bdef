"""Benchmark: memory per tracked vessel in the detectors' state.

Feeds 100,000 distinct vessels (two fixes ten minutes apart, so each has a
full state) through the same `TrackDetector.on_batch` the worker runs, with the
state held in plain dicts of the same str keys and str values that Faust's
memory store holds, and prints the resident memory that the state added per
vessel. Batches are built just before use, so their garbage is small.
Run: python scripts/bench_vessel_memory.py [--vessels 100000]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from geo.catalogue import load_catalogue
from geo.lookup import locate
from geo.ports import load_ports
from streams.detect.columns import FIX_COLUMNS, DetectBatch
from streams.detect.runtime import TrackDetector
from streams.detect.thresholds import Thresholds
from streams.detect.watchlist import WatchListFile

BATCH = 2000
T0 = 1_760_000_000.0


def fixes(first: int, lat: Any, lon: Any, ts: float, catalogue: Any) -> DetectBatch:
    count = len(lat)
    found = locate(catalogue, lon, lat)
    columns: dict[str, list[Any]] = {c: [] for c in FIX_COLUMNS}
    for i in range(count):
        mmsi = f"{200_000_000 + first + i:09d}"
        row = (f"BENCH:{mmsi}:{ts}", f"mmsi:{mmsi}", ts, float(lat[i]), float(lon[i]), 8.0,
               str(found.crossing_id[i]), str(found.route[i]), mmsi, "", "", "", "", ts)  # fmt: skip
        for column, value in zip(columns.values(), row):
            column.append(value)
    return DetectBatch(fixes=columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vessels", type=int, default=100_000)
    args = parser.parse_args()
    catalogue = load_catalogue()
    detector = TrackDetector(Thresholds(), catalogue, load_ports(), WatchListFile(None), partitions=1)
    rng = np.random.default_rng(7)
    lat = rng.uniform(34.0, 38.0, args.vessels)
    lon = rng.uniform(-6.0, 4.0, args.vessels)
    step_deg = 2500 / 111_000  # 8 kn for ten minutes, northwards
    vessels: dict[str, Any] = {}
    crossings: dict[str, Any] = {}
    groups: dict[str, Any] = {}
    gc.collect()
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.perf_counter()
    for ts, moved in ((T0, 0.0), (T0 + 600, step_deg)):
        for first in range(0, args.vessels, BATCH):
            rows = slice(first, first + BATCH)
            batch = fixes(first, lat[rows] + moved, lon[rows], ts, catalogue)
            detector.on_batch(0, batch, time.time(), vessels, crossings, {}, groups, {})
    elapsed = time.perf_counter() - started
    gc.collect()
    after = process.memory_info().rss
    per_vessel = (after - before) / len(vessels)
    fixes_done = 2 * args.vessels
    print(f"tracked vessels: {len(vessels):,}; {fixes_done:,} fixes in {elapsed:.1f} s "
          f"({fixes_done / elapsed:,.0f} fixes/s, {1e6 * elapsed / fixes_done:.1f} µs per fix)")  # fmt: skip
    print(f"RSS: {before / 2**20:,.1f} MB before, {after / 2**20:,.1f} MB after")
    print(f"RSS per tracked vessel: {per_vessel:,.0f} bytes")


if __name__ == "__main__":
    main()
