"""Benchmark: the detection step alone (`TrackDetector.on_batch`), in this process, on the spine's feed.

No broker, no ClickHouse: the spine benchmark's interception reports
(`bench_spine.py`'s feed, April 2025, scaled to --reports) validated and
located as the ingest stage does (`process_batch`), split into the detect
batches the store stage publishes (`split_for_detection`, --partitions), and
handed to one `TrackDetector` with dict tables, --batch reports at a time (the
worker's batches are up to 2,000). The reports go in the generator's order (as
`bench_spine.py --part spine` sends them) or with --time-order in observed_at
order (as `--part detectors` does).

Prints the CPU time of `on_batch` alone (thread time, the other steps left
out) per report, the least of --repeats runs on the same batches (a fresh
detector each: this shared 2-core machine's noise only ever adds), and a
digest of every alert state published (id, version, status, impact, window,
evidence): two runs of different code on the same
arguments that print the same digest published the same alerts.
Run: python scripts/bench_detect.py [--reports 60000] [--batch 2000] [--partitions 4] [--time-order]
     [--repeats 3]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from geo.catalogue import builtin_path, load_catalogue
from geo.ports import load_ports
from schemas.alerts import Alert
from schemas.events import ReportKind
from scripts.bench_spine import feed_lines, in_time_order
from streams.config.settings import Settings
from streams.detect.columns import DetectBatch, split_for_detection
from streams.detect.runtime import TrackDetector
from streams.detect.watchlist import WatchListFile
from streams.kafka.topics import INTERCEPTIONS
from streams.stages.enrich import RawMessage, process_batch

WALL = datetime(2026, 1, 1, tzinfo=UTC)  # a fixed wall clock: April 2025 is replayed, never live


def detect_batches(lines: list[bytes], batch: int, partitions: int) -> list[list[tuple[int, bytes]]]:
    """Each ingest batch's tracks messages (partition, bytes), as the store stage publishes them."""
    catalogue = load_catalogue(builtin_path())
    kinds = {c: str(p["kind"]) for c, p in zip(catalogue.crossings.ids, catalogue.crossings.props)}
    meeting = Settings().detect
    out = []
    for start in range(0, len(lines), batch):
        messages = [
            RawMessage(INTERCEPTIONS, 0, start + n, line, ReportKind.INTERCEPTION)
            for n, line in enumerate(lines[start : start + batch])
        ]
        events = process_batch(messages, catalogue, WALL).events
        tracks, _ = split_for_detection(
            events, kinds, partitions, meeting.encounter_distance_m
        )
        out.append(tracks)
    return out


def run(batches: list[list[tuple[int, bytes]]], partitions: int) -> tuple[float, list[Alert], int]:
    """CPU seconds inside `on_batch`, every alert state published, and the sightings seen."""
    catalogue = load_catalogue(builtin_path())
    detector = TrackDetector(Settings().detect, catalogue, load_ports(), WatchListFile(None), partitions)
    tables: list[dict[str, Any]] = [{}, {}, {}, {}, {}]
    wall = WALL.timestamp()
    alerts: list[Alert] = []
    cpu = 0.0
    for tracks in batches:
        for partition, raw in tracks:
            wall += 0.05
            decoded = DetectBatch.decode(raw)
            started = time.thread_time()
            result = detector.on_batch(partition, decoded, wall, *tables)
            cpu += time.thread_time() - started
            alerts += result.alerts
    return cpu, alerts, detector.stats.sightings


def digest(alerts: list[Alert]) -> str:
    h = hashlib.sha256()
    for a in alerts:
        state = (a.id, a.version, a.status, a.impact, a.window_start, a.window_end, a.event_ids)
        h.update(repr(state).encode())
    return h.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=2000, help="reports per ingest batch")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--time-order", action="store_true", help="send the reports in observed_at order")
    parser.add_argument("--repeats", type=int, default=3, help="runs on the same batches, the least CPU kept")
    args = parser.parse_args()
    lines = feed_lines(args.reports, month="2025-04")
    if args.time_order:
        lines = in_time_order(lines)
    batches = detect_batches(lines, args.batch, args.partitions)
    runs = [run(batches, args.partitions) for _ in range(args.repeats)]
    if len({digest(alerts) for _, alerts, _ in runs}) != 1:
        raise SystemExit("the runs published different alert states")
    cpu, alerts, sightings = min(runs, key=lambda r: r[0])
    each = " / ".join(f"{1e6 * r[0] / len(lines):.1f}" for r in runs)
    print(
        f"{len(lines):,} reports ({sightings:,} sightings), batches of {args.batch:,}, {args.partitions} "
        f"partitions{', in time order' if args.time_order else ''}: detection {cpu:.2f} CPU s (least), "
        f"{1e6 * cpu / len(lines):.1f} CPU µs per report (runs: {each}); {len(alerts):,} alert states, "
        f"digest {digest(alerts)}"
    )


if __name__ == "__main__":
    main()
