"""Benchmark: what a busy crossing costs in the detectors' state with 24 h of lateness.

Runs a crossing through `detect_crossing` for `--days` days at `--per-day`
reports a day (each report arriving `--delay-h` hours after the event), so its
state holds a week of hours, a day of event ids (the open hours) and the
learned daily history. Prints the state's size as stored in the changelog
(JSON bytes) and in memory (tracemalloc of the state's Python objects), and
the CPU per report.
Run: python scripts/bench_crossing_memory.py [--days 400] [--per-day 110] [--delay-h 20]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from streams.detect.baseline import Baselines
from streams.detect.crossings import (
    CrossingContext,
    CrossingHistory,
    CrossingOutcome,
    CrossingState,
    Sighting,
    detect_crossing,
)
from streams.detect.seed import load_seed
from streams.detect.thresholds import Thresholds

START = 1_672_531_200.0  # 2023-01-01 00:00 UTC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--per-day", type=int, default=110)
    parser.add_argument("--delay-h", type=float, default=20.0)
    args = parser.parse_args()
    t = Thresholds()
    ctx = CrossingContext(t, Baselines(load_seed(), t))
    out: CrossingOutcome | None = None
    every = 86400 / args.per_day
    reports = args.days * args.per_day
    started = time.process_time()
    for n in range(reports):
        observed = START + n * every
        arrived = observed + args.delay_h * 3600
        state, history = (out.state, out.history) if out else (None, None)
        row = [Sighting(f"IT-GDF:{n}", observed, 45, arrived)]
        out = detect_crossing("IT-LAMPEDUSA", "sea_sector", "Central Mediterranean", row, state,
                              history, arrived - t.allowed_lateness_s, arrived, ctx)  # fmt: skip
    cpu_us = (time.process_time() - started) / reports * 1e6
    assert out is not None
    state_json, history_json = orjson.dumps(out.state.to_json()), orjson.dumps(out.history.to_json())
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    # What a worker holds per crossing: the tables' values (as after recovery) and their decoded objects.
    copy = orjson.loads(state_json), orjson.loads(history_json)
    objects = CrossingState.from_json(copy[0]), CrossingHistory.from_json(copy[1])
    after = tracemalloc.take_snapshot()
    in_memory = sum(s.size_diff for s in after.compare_to(before, "filename"))
    ids = sum(len(b.ids) for b in out.state.hours.values())
    print(
        f"{reports:,} reports over {args.days} days at {args.per_day}/day, {args.delay_h:g} h late: "
        f"state holds {len(out.state.hours)} hours, {ids} event ids, {len(out.history.days)} learned days"
    )
    print(
        f"one crossing: {len(state_json):,} bytes of open hours in the changelog on every batch, "
        f"{len(history_json):,} bytes of history once a day; {in_memory:,} bytes in memory"
    )
    print(f"CPU per report in detect_crossing: {cpu_us:.0f} µs (one report per call, the worst case)")
    del copy, objects


if __name__ == "__main__":
    main()
