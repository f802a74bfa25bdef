"""Benchmark: the same job in Quix Streams, Bytewax and borderwatch, side by side on one Tansu broker.

The job: consume N interception reports (the sample feed's generator), validate
each against the same pydantic model (schemas.validate.validate_report), locate
each batch's positions with geo.locate (a crossing hint where there is no
position), and insert each batch into a chdb table of its own. Every
contestant runs in its own process (chdb is one per process) and calls the same
`Job` below; only the way the messages reach it differs:
- aiokafka: getmany batches, nothing done with them (the ceiling: consuming alone);
- borderwatch stages: the worker's own consumer (streams/kafka/clients.py, aiokafka getmany);
- Quix Streams: a StreamingDataFrame (validate per message) into a BatchingSink (per checkpoint);
- Bytewax: KafkaSource, a map (validate), a sink partition's write_batch;
- borderwatch worker: `borderwatch worker` with the detectors off, which does more than the
  job: the resend check against ClickHouse, the events table with its materialised views, and
  events.enriched.
Each is timed from its first message to its last insert; CPU is the whole process's (every thread:
librdkafka's, chdb's) over that time. The worker is asked once a second (scripts/bench_clock.py):
its CPU counts from its first answer (the group join in), its rate from its first insert to its
last, scaled to every report; its rejects are those stored by then (they come round through dlq).
The machine is shared: run it more than once.
Run: python scripts/bench_peers.py [--reports 30000] [--only quix bytewax ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from geo import load_catalogue
from geo.lookup import crossing_route, locate
from schemas.events import ReportKind
from schemas.reports import InterceptionReport
from schemas.validate import validate_report
from scripts.bench_clock import insert_span, poll_status
from scripts.bench_spine import feed_lines
from streams.client.worker_api import start_worker_process, stop_process, wait_for_worker
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import free_port, start_local_broker
from streams.kafka.topics import INTERCEPTIONS
from streams.sinks.clickhouse.connection import connect
from streams.sources.replay import replay_lines

PARTITIONS = 4
BATCH = 5000
TABLE = "peers.reports"
COLUMNS = (
    "authority",
    "report_id",
    "observed_at",
    "incident_type",
    "persons",
    "crossing_id",
    "country",
    "route",
)


class Job:
    """Validate one message; locate and store a batch. The same code for every contestant."""

    def __init__(self, chdb_dir: Path) -> None:
        self.catalogue = load_catalogue()
        self.known = set(self.catalogue.crossings.ids)
        self.client = connect(f"chdb://{chdb_dir}")
        self.client.command("CREATE DATABASE IF NOT EXISTS peers")
        self.client.command(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (authority String, report_id String, "
            "observed_at DateTime64(3, 'UTC'), incident_type LowCardinality(String), persons UInt32, "
            "crossing_id LowCardinality(String), country LowCardinality(String), "
            "route LowCardinality(String)) ENGINE = MergeTree ORDER BY (authority, report_id)"
        )
        self.seen = self.stored = self.rejected = 0
        self.first = 0.0
        self.cpu0 = 0.0

    def validate(self, raw: bytes | None) -> InterceptionReport | None:
        """The report, or None for a rejection (counted)."""
        if not self.seen:
            self.first, self.cpu0 = time.perf_counter(), time.process_time()
        self.seen += 1
        checked = validate_report(raw, ReportKind.INTERCEPTION, datetime.now(UTC), self.known)
        if isinstance(checked, InterceptionReport):
            return checked
        self.rejected += 1
        return None

    def store(self, reports: Sequence[InterceptionReport]) -> None:
        """Locate a batch with one vectorised call, then insert it as one block."""
        if not reports:
            return
        lon = np.array([np.nan if r.lon is None else r.lon for r in reports])
        lat = np.array([np.nan if r.lat is None else r.lat for r in reports])
        found = locate(self.catalogue, lon, lat)
        rows: list[list[Any]] = [[] for _ in COLUMNS]
        for i, r in enumerate(reports):
            if r.lat is None and r.crossing_id is not None:
                crossing, (country, route) = r.crossing_id, crossing_route(self.catalogue, r.crossing_id)
            else:
                crossing, country, route = found.crossing_id[i], found.country[i], found.route[i]
            values = (r.authority, r.report_id, r.observed_at, r.incident_type.value, r.persons,
                      crossing, country, route)  # fmt: skip
            for column, value in zip(rows, values):
                column.append(value)
        self.client.insert(TABLE, rows, column_names=list(COLUMNS), column_oriented=True)
        self.stored += len(reports)

    def done(self, count: int) -> bool:
        return self.seen >= count

    def result(self) -> dict[str, float]:
        elapsed, cpu = time.perf_counter() - self.first, time.process_time() - self.cpu0
        rows = int(self.client.query(f"SELECT count() FROM {TABLE}").result_rows[0][0])
        return {"seen": self.seen, "stored": rows, "rejected": self.rejected, "elapsed": elapsed, "cpu": cpu}


def run_aiokafka(broker: str, count: int, _: Path) -> dict[str, float]:
    """The ceiling: aiokafka getmany batches, nothing done with them."""
    from aiokafka import AIOKafkaConsumer

    async def consume() -> dict[str, float]:
        consumer = AIOKafkaConsumer(
            INTERCEPTIONS, bootstrap_servers=broker, group_id=f"peers-aiokafka-{os.getpid()}",
            auto_offset_reset="earliest", enable_auto_commit=False,
        )  # fmt: skip
        await consumer.start()
        seen, first_batch, first, cpu0 = 0, 0, 0.0, 0.0
        try:
            while seen < count:
                batches = await consumer.getmany(timeout_ms=200, max_records=BATCH // 10)
                n = sum(len(records) for records in batches.values())
                if n and not seen:
                    first_batch, first, cpu0 = n, time.perf_counter(), time.process_time()
                seen += n
        finally:
            await consumer.stop()
        elapsed, cpu = time.perf_counter() - first, time.process_time() - cpu0
        # Timed from the first batch's arrival: scaled to every report, as the others are.
        after = max(seen - first_batch, 1)
        return {"seen": seen, "stored": 0, "rejected": 0, "elapsed": elapsed * seen / after,
                "cpu": cpu * seen / after}  # fmt: skip

    return asyncio.run(consume())


def run_borderwatch_stages(broker: str, count: int, chdb_dir: Path) -> dict[str, float]:
    """The worker's own batch consumer (aiokafka getmany) feeding the job."""
    from streams.kafka.clients import KafkaBatchConsumer

    job = Job(chdb_dir)

    async def consume() -> None:
        consumer = KafkaBatchConsumer(broker, f"peers-bw-{os.getpid()}", [INTERCEPTIONS])
        await consumer.start()
        try:
            while not job.done(count):
                batch = await consumer.next_batch(BATCH, 0.2)
                job.store([r for r in (job.validate(m.value) for m in batch) if r is not None])
        finally:
            await consumer.stop()

    asyncio.run(consume())
    return job.result()


def run_quix(broker: str, count: int, chdb_dir: Path) -> dict[str, float]:
    """Quix Streams: validate in a StreamingDataFrame, store in a BatchingSink (flushed per checkpoint)."""
    from quixstreams import Application
    from quixstreams.sinks.base import BatchingSink, SinkBatch

    job = Job(chdb_dir)
    app = Application(
        broker_address=broker, consumer_group=f"peers-quix-{os.getpid()}",
        auto_offset_reset="earliest", commit_interval=1.0, loglevel="WARNING",
        use_changelog_topics=False, auto_create_topics=False,
    )  # fmt: skip

    class JobSink(BatchingSink):
        def write(self, batch: SinkBatch) -> None:
            job.store([item.value for item in batch])
            if job.done(count) and job.stored + job.rejected >= count:
                app.stop()

    topic = app.topic(INTERCEPTIONS, value_deserializer="bytes")
    sdf = app.dataframe(topic)
    sdf = sdf.apply(job.validate).filter(lambda report: report is not None)
    sdf.sink(JobSink())
    app.run()
    return job.result()


def run_bytewax(broker: str, count: int, chdb_dir: Path) -> dict[str, float]:
    """Bytewax: KafkaSource (to the end of the topic), a map to validate, a sink's write_batch."""
    from bytewax import operators as op
    from bytewax.connectors.kafka import KafkaSource
    from bytewax.dataflow import Dataflow
    from bytewax.outputs import DynamicSink, StatelessSinkPartition
    from bytewax.testing import run_main

    job = Job(chdb_dir)

    class JobPartition(StatelessSinkPartition[Any]):
        def write_batch(self, items: list[Any]) -> None:
            job.store(items)

    class JobSink(DynamicSink[Any]):
        def build(self, step_id: str, worker_index: int, worker_count: int) -> JobPartition:
            return JobPartition()

    flow = Dataflow("peers")
    source = KafkaSource([broker], [INTERCEPTIONS], tail=False, batch_size=BATCH)
    messages: Any = op.input("in", flow, source)  # errors raise (raise_on_errors): only messages come
    reports = op.filter("valid", op.map("validate", messages, lambda m: job.validate(m.value)),
                        lambda r: r is not None)  # fmt: skip
    op.output("out", reports, JobSink())
    run_main(flow)
    return job.result()


RUNNERS: dict[str, Callable[[str, int, Path], dict[str, float]]] = {
    "aiokafka": run_aiokafka,
    "borderwatch stages": run_borderwatch_stages,
    "quix": run_quix,
    "bytewax": run_bytewax,
}


def run_contestant(name: str, broker: str, count: int, tmp: Path) -> dict[str, float]:
    """One contestant in a process of its own; its measures, read back as JSON."""
    out = tmp / f"{name.replace(' ', '-')}.json"
    command = [sys.executable, __file__, "--run", name, broker, str(count), str(tmp / name.replace(" ", "-")),
               str(out)]  # fmt: skip
    done = subprocess.run(command, timeout=900, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr.decode(errors='replace')[-2000:]}")
    return dict(json.loads(out.read_text()))


def run_worker(broker: str, count: int, tmp: Path) -> dict[str, float]:
    """`borderwatch worker`, detectors off; CPU from its first answer until it has handled `count`."""
    data_dir = tmp / "worker"
    data_dir.mkdir()
    log, port = data_dir / "worker.log", free_port()
    worker = start_worker_process(
        log, kafka=broker, data_dir=str(data_dir), web_port=str(port), partitions=str(PARTITIONS),
        detectors="false", worker_id="bench-peers",
    )  # fmt: skip
    try:
        api = wait_for_worker(worker, f"http://127.0.0.1:{port}", data_dir, log)
        process = psutil.Process(worker.pid)
        cpu0 = sum(process.cpu_times()[:2])
        status = poll_status(api, lambda s: s.get("processed", 0) >= count)
        cpu = sum(process.cpu_times()[:2]) - cpu0
        span = insert_span(api)  # the group join takes seconds on Tansu: the rate is its inserts'
        stored = int(status.get("events", 0))
        return {"seen": count, "stored": stored, "rejected": int(status.get("rejects", 0)),
                "elapsed": count / span.rate, "cpu": cpu}  # fmt: skip
    finally:
        stop_process(worker)


@dataclass(frozen=True)
class Line:
    name: str
    rate: float
    cpu_us: float
    stored: int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=30_000, help="200000 for the issue's figure")
    parser.add_argument("--only", nargs="*", choices=[*RUNNERS, "borderwatch worker"])
    args = parser.parse_args()
    names = args.only or [*RUNNERS, "borderwatch worker"]
    lines = feed_lines(args.reports, month="2025-04")
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp, start_local_broker() as broker:
        asyncio.run(ensure_topics(broker.url, PARTITIONS))
        asyncio.run(replay_lines(iter(lines), INTERCEPTIONS, broker.url))
        print(f"produced {len(lines):,} reports to {INTERCEPTIONS} ({PARTITIONS} partitions)", flush=True)
        results: list[Line] = []
        for name in names:
            if name == "borderwatch worker":
                m = run_worker(broker.url, len(lines), Path(tmp))
            else:
                m = run_contestant(name, broker.url.removeprefix("kafka://"), len(lines), Path(tmp))
            line = Line(name, len(lines) / m["elapsed"], 1e6 * m["cpu"] / len(lines), int(m["stored"]))
            results.append(line)
            print(
                f"{name:20s} {line.rate:9,.0f} reports/s {line.cpu_us:7.0f} CPU µs per report  "
                f"stored {line.stored:,}, rejected {int(m['rejected']):,}",
                flush=True,
            )
    workers = [r for r in results if r.name != "aiokafka"]
    if not workers:
        return
    best = min(workers, key=lambda r: r.cpu_us)
    for mine in (r for r in results if r.name.startswith("borderwatch")):
        print(f"{mine.name}: {mine.cpu_us / best.cpu_us:.2f}x the CPU per report of the best ({best.name}), "
              f"{mine.rate / max(r.rate for r in workers):.2f}x the best rate")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--run":
        name, broker, count, chdb_dir, out = (
            sys.argv[2],
            sys.argv[3],
            int(sys.argv[4]),
            sys.argv[5],
            sys.argv[6],
        )
        Path(out).write_text(json.dumps(RUNNERS[name](broker, count, Path(chdb_dir))))
    else:
        main()
