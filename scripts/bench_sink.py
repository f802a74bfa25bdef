"""Benchmark: what the store stage's ClickHouse calls cost per report, by batch size, on chdb.

The spine's reports (the sample feed's generator, scaled up, as in
bench_spine.py) are validated and enriched in this process, then handed to a
`ClickHouseIncidentSink` on a fresh chdb with every migration, batch by batch,
as the store stage does: the identity lookup (`stored_sources`), the events
insert (with its three views and its deduplication token), and the rejects
(their own lookup and insert). Each call's CPU (this process, chdb's threads
included) and wall time are summed per call and printed per report, for each
batch size given. Nothing else runs: no broker, no worker, no polling.

A chdb insert has a fixed cost whatever its size (a part per table and view,
the deduplication log), and so has each query; the figures show how much of
a report's cost is its batch's fixed cost. (What the stages cost in Python before
and after ClickHouse: scripts/bench_stages.py.)
Run: python scripts/bench_sink.py [--reports 60000] [--batch-sizes 500,2000,10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from geo import load_catalogue
from schemas.limits import DEFAULT_LIMITS, MAX_MESSAGE_BYTES
from scripts.bench_spine import feed_lines
from scripts.bench_stages import batches_of
from streams.kafka.topics import INTERCEPTIONS
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.events import ClickHouseIncidentSink
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.stages.enrich import first_copies
from streams.stages.ingest import Ingest
from streams.stages.runner import PreparedBatch

CALLS = ("identity lookup", "events insert", "rejects lookup and insert")


@dataclass
class Spent:
    """CPU and wall seconds per call, summed over the batches."""

    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CALLS, 0.0))
    wall: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CALLS, 0.0))

    def timed(self, call: str, work: Callable[[], object]) -> None:
        cpu, wall = time.process_time(), time.perf_counter()
        work()
        self.cpu[call] += time.process_time() - cpu
        self.wall[call] += time.perf_counter() - wall


def prepared(lines: list[bytes], batch_size: int) -> list[PreparedBatch]:
    """The lines as the ingest stage prepares them, in batches of `batch_size` (4 partitions)."""
    ingest = Ingest(load_catalogue(), MAX_MESSAGE_BYTES, DEFAULT_LIMITS)
    batches = [ingest.prepare(records) for records in batches_of(INTERCEPTIONS, lines, batch_size)]
    return batches


def store(batches: list[PreparedBatch]) -> Spent:
    """Each batch through a fresh sink as the store stage calls it."""
    spent = Spent()
    with tempfile.TemporaryDirectory(prefix="bench-sink-") as tmp:
        sink = ClickHouseIncidentSink(connect(f"chdb://{tmp}/chdb"), "borderwatch")
        migrate(sink.client, "borderwatch")
        sink.open_log("bench")
        for batch in batches:
            store_batch(sink, batch, spent)
        sink.client.close()
    return spent


def store_batch(sink: ClickHouseIncidentSink, batch: PreparedBatch, spent: Spent) -> None:
    """One batch's calls, as `Store.store_and_publish` and the dead letters make them."""
    events = first_copies(list(batch.events))
    stored: dict[tuple[str, str], object] = {}
    spent.timed("identity lookup", lambda: stored.update(sink.stored_sources(events)))
    fresh = [e for e in events if e.identity not in stored]
    spent.timed("events insert", lambda: sink.write_events(fresh))
    spent.timed("rejects lookup and insert", lambda: sink.write_rejects(batch.dead_letters))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=60_000)
    parser.add_argument("--batch-sizes", default="500,2000,10000")
    args = parser.parse_args()
    lines = feed_lines(args.reports, month="2025-04")
    print(f"{len(lines):,} interception reports; CPU (wall) µs per report, chdb's threads included")
    for size in (int(s) for s in args.batch_sizes.split(",")):
        batches = prepared(lines, size)
        spent = store(batches)
        parts = ", ".join(
            f"{call} {1e6 * spent.cpu[call] / len(lines):.1f} ({1e6 * spent.wall[call] / len(lines):.1f})"
            for call in CALLS
        )
        total = sum(spent.cpu.values())
        print(f"batches of {size:,} ({len(batches)} batches): {parts}; "
              f"all {1e6 * total / len(lines):.1f}, {1e3 * total / len(batches):.1f} ms a batch")  # fmt: skip


if __name__ == "__main__":
    main()
