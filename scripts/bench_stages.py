"""Benchmark: the spine's per-report Python stages, in this process, on an interception feed and an AIS feed.

No broker, no ClickHouse: each feed's lines are read as 4-partition input
records in batches of --batch (the worker's batches are up to 2,000), then
each step the ingest and store stages run on a batch is timed on its own:

- `Ingest.prepare`: validate, locate, build the `Enriched` events and dead letters (each batch's
  result dropped before the next, as the worker drops it once stored);
- events columns: `event_columns` and `encode_columns`, the events insert's JSONColumns block
  (what `ClickHouseIncidentSink._insert_events` hands to chdb, chdb's own work left out);
- `to_wire`: the `events.enriched` message of every event;
- `split_for_detection`: the detect.tracks and detect.cells messages (4 partitions).

The interception feed is bench_spine.py's (April 2025, scaled up to --reports);
the AIS feed is make_sample_feed.py's vessel tracks of 1,000 vessels, as many
fixes each as reach --reports. The heap built before timing is frozen (`gc.freeze`), as the
worker freezes its start-up heap. Each step's CPU (process time) is summed over
the batches and printed per report: the least of --repeats runs (this shared
2-core machine's noise only ever adds).
Run: python scripts/bench_stages.py [--reports 60000] [--batch 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from geo import load_catalogue
from schemas.codec import encode_columns
from schemas.limits import DEFAULT_LIMITS, MAX_MESSAGE_BYTES
from scripts.bench_spine import feed_lines
from scripts.make_sample_feed import generate
from streams.config.settings import Settings
from streams.detect.columns import split_for_detection
from streams.kafka.topics import INTERCEPTIONS, VESSELS
from streams.sinks.clickhouse.columns import EVENT_COLUMNS, event_columns
from streams.stages.enrich import Enriched
from streams.stages.ingest import Ingest

VESSEL_COUNT = 1000


@dataclass(frozen=True)
class Record:
    """The fields of a consumer record that `Ingest.prepare` reads."""

    topic: str
    partition: int
    offset: int
    value: bytes
    timestamp: int


def batches_of(topic: str, lines: list[bytes], size: int) -> list[list[Record]]:
    """The lines as input records on 4 partitions, cut into batches of `size`."""
    published = int(datetime.now(UTC).timestamp() * 1000)
    records = [Record(topic, i % 4, i // 4, line, published) for i, line in enumerate(lines)]
    return [records[i : i + size] for i in range(0, len(records), size)]


def least_cpu_s(step: Callable[[], object], repeats: int) -> float:
    """The least CPU seconds of `repeats` runs of `step`."""
    spent = []
    for _ in range(repeats):
        started = time.process_time()
        step()
        spent.append(time.process_time() - started)
    return min(spent)


def measure(name: str, topic: str, lines: list[bytes], batch: int, repeats: int) -> None:
    """Time each step over the feed's batches and print its CPU µs a report."""
    catalogue = load_catalogue()
    ingest = Ingest(catalogue, MAX_MESSAGE_BYTES, DEFAULT_LIMITS)
    batches = batches_of(topic, lines, batch)
    ingest.prepare(batches[0])  # warm: the first batch pays for lazy imports and caches
    gc.collect()
    gc.freeze()  # as streams/worker/start.py does: the collector stops rescanning the set-up heap
    # Each batch's result dropped before the next, as in the worker: results kept alive make
    # the garbage collector scan them again and again (prepare's CPU doubles).
    prepare_s = least_cpu_s(lambda: [ingest.prepare(b) and None for b in batches], repeats)
    prepared = [ingest.prepare(b).events for b in batches]
    kinds = {c: str(p["kind"]) for c, p in zip(catalogue.crossings.ids, catalogue.crossings.props)}
    reach_m = Settings().detect.encounter_distance_m

    def each(work: Callable[[Sequence[Enriched]], object]) -> Callable[[], None]:
        return lambda: [work(events) for events in prepared] and None

    def insert_block(events: Sequence[Enriched]) -> bytes:
        return encode_columns(dict(zip(EVENT_COLUMNS, event_columns(events, "bench"))))

    steps: dict[str, Callable[[], object]] = {
        "events columns": each(insert_block),
        "to_wire": each(lambda ev: [e.to_wire() for e in ev]),
        "split_for_detection": each(lambda ev: split_for_detection(ev, kinds, 4, reach_m)),
    }
    events = sum(len(e) for e in prepared)
    figures = {"Ingest.prepare": 1e6 * prepare_s / len(lines)}
    figures |= {step: 1e6 * least_cpu_s(work, repeats) / len(lines) for step, work in steps.items()}
    parts = ", ".join(f"{step} {us:.1f}" for step, us in figures.items())
    print(f"{name}: {len(lines):,} reports, {events:,} events; CPU µs a report: {parts}; "
          f"all {sum(figures.values()):.1f}")  # fmt: skip


def ais_lines(count: int) -> list[bytes]:
    """make_sample_feed's vessel tracks: VESSEL_COUNT vessels, enough fixes each for `count`."""
    per_vessel = -(-count // VESSEL_COUNT)
    return generate(month="2025-04", vessels=VESSEL_COUNT, fixes_per_vessel=per_vessel).vessels[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"batches of {args.batch:,}; each step the least of {args.repeats} runs")
    interceptions = feed_lines(args.reports, month="2025-04")
    measure("interceptions", INTERCEPTIONS, interceptions, args.batch, args.repeats)
    measure("AIS", VESSELS, ais_lines(args.reports), args.batch, args.repeats)


if __name__ == "__main__":
    main()
