"""Benchmark: scale-out on this machine — throughput with 1 and 2 process workers, and recovery.

1. Throughput: N interception reports (the sample feed's generator) on a fresh
   Tansu broker with 8 partitions, through one `all` worker, then through a
   sink and 1 or 2 `process` workers. Reports/s between the first and the last
   insert of events (ClickHouse's insert times), and the CPU of all the
   processes per report, from when every one answers (start and imports left
   out, group joins and one /status per worker a second in) until every report
   is handled.
2. Recovery: V vessels report once each, spread over 8 partitions and two
   process workers; one worker is killed (SIGKILL), and a probe fix is sent to
   every partition. Recovery time is from the kill until the survivor has
   handled every probe: the group noticing the death (session timeout, 10 s),
   the rebalance, and the survivor restoring the dead worker's tables from
   their changelogs. Measured to within the 1 s poll (scripts/bench_clock.py).
Run: python scripts/bench_scale.py [--reports 40000] [--vessels 10000 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.bench_clock import POLL_S, insert_span
from scripts.bench_spine import feed_lines
from streams.client.worker_api import WorkerApi, start_worker_process, stop_process, wait_for_worker
from streams.detect.columns import partition_of
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import free_port, start_local_broker
from streams.kafka.topics import INTERCEPTIONS, VESSELS
from streams.sources.replay import replay_lines

PARTITIONS = 8


class Fleet:
    """Worker processes on one broker and one data dir (one chdb, held by the sink or the `all` worker)."""

    def __init__(self, broker_url: str, data_dir: Path) -> None:
        self.broker_url, self.data_dir = broker_url, data_dir
        self.workers: list[tuple[subprocess.Popen[bytes], WorkerApi]] = []

    def start(self, role: str, **settings: str) -> tuple[subprocess.Popen[bytes], WorkerApi]:
        port = free_port()
        log = self.data_dir / f"{role}-{len(self.workers)}.log"
        process = start_worker_process(
            log, kafka=self.broker_url, data_dir=str(self.data_dir), web_port=str(port), role=role,
            worker_id="bench-scale", partitions=str(PARTITIONS), **settings,
        )  # fmt: skip
        started = (process, wait_for_worker(process, f"http://127.0.0.1:{port}", self.data_dir, log))
        self.workers.append(started)
        return started

    def cpu_s(self) -> float:
        return sum(sum(psutil.Process(p.pid).cpu_times()[:2]) for p, _ in self.workers if p.poll() is None)

    def stop(self) -> None:
        for process, _ in self.workers:
            stop_process(process)


def status(api: WorkerApi) -> dict[str, object]:
    return dict(api.get("/status") or {})


def handled(holder: WorkerApi, fleet: Fleet) -> int:
    """Stored and refused at the ClickHouse holder, plus the copies every worker dropped."""
    s = status(holder)
    copies = sum(int(status(api).get("duplicates", 0)) for p, api in fleet.workers if p.poll() is None)  # type: ignore[call-overload]
    return int(s.get("events", 0)) + int(s.get("rejects", 0)) + copies  # type: ignore[call-overload]


def throughput(lines: list[bytes], process_workers: int) -> tuple[float, float]:
    """(reports/s, CPU µs per report) with `process_workers` process workers and a sink; 0: one `all`."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp, start_local_broker() as broker:
        asyncio.run(ensure_topics(broker.url, PARTITIONS))
        sent = asyncio.run(replay_lines(iter(lines), INTERCEPTIONS, broker.url))
        fleet = Fleet(broker.url, Path(tmp))
        try:
            _, holder = fleet.start("all" if process_workers == 0 else "sink")
            for _ in range(process_workers):
                fleet.start("process")
            cpu0 = fleet.cpu_s()  # every worker answers: started, imports done; the group joins are in
            while handled(holder, fleet) < sent:
                time.sleep(POLL_S)
            cpu = fleet.cpu_s() - cpu0
            span = insert_span(holder)  # the rate between the first and the last insert of events
        finally:
            fleet.stop()
    return span.rate, 1e6 * cpu / sent


def fix(mmsi: int, at: datetime) -> bytes:
    return orjson.dumps({
        "report_id": f"B-{mmsi}-{int(at.timestamp())}", "authority": "EMSA", "source": "ais",
        "observed_at": at, "lat": 38.5, "lon": 4.0 + (mmsi % 1000) / 1000, "mmsi": mmsi, "sog": 6.0,
    })  # fmt: skip


def fixes_seen(api: WorkerApi) -> int:
    detect = status(api).get("detect") or {}
    return int(detect.get("fixes", 0))  # type: ignore[union-attr]


def recovery(vessels: int) -> float:
    """Seconds from killing one of two process workers until the other serves all 8 partitions again."""
    at = datetime.now(UTC) - timedelta(days=1)
    first = [fix(200_000_000 + i, at) for i in range(vessels)]
    with tempfile.TemporaryDirectory(prefix="bench-recover-") as tmp, start_local_broker() as broker:
        asyncio.run(ensure_topics(broker.url, PARTITIONS))
        fleet = Fleet(broker.url, Path(tmp))
        try:
            fleet.start("sink")
            (a, a_api), (_, b_api) = fleet.start("process"), fleet.start("process")
            asyncio.run(replay_lines(iter(first), VESSELS, broker.url))
            while fixes_seen(a_api) + fixes_seen(b_api) < vessels:
                time.sleep(POLL_S)
            time.sleep(5)  # Faust commits the offsets of what was detected
            # One probe vessel per partition, so the dead worker's partitions are all needed.
            probes, mmsi = {}, 300_000_000
            while len(probes) < PARTITIONS:
                probes.setdefault(
                    partition_of(f"mmsi:{mmsi}", PARTITIONS), fix(mmsi, at + timedelta(hours=1))
                )
                mmsi += 1
            before = fixes_seen(b_api)
            a.send_signal(signal.SIGKILL)
            a.wait()
            killed = time.perf_counter()
            asyncio.run(replay_lines(iter(probes.values()), VESSELS, broker.url))
            while fixes_seen(b_api) < before + PARTITIONS:
                time.sleep(POLL_S)
            return time.perf_counter() - killed  # to within the poll (1 s)
        finally:
            fleet.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=40_000)
    parser.add_argument("--vessels", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--part", choices=("all", "throughput", "recovery"), default="all")
    args = parser.parse_args()
    if args.part in ("all", "throughput"):
        lines = feed_lines(args.reports, "2025-04")
        for n, name in (
            (0, "one `all` worker"),
            (1, "sink + 1 process worker"),
            (2, "sink + 2 process workers"),
        ):
            rate, cpu_us = throughput(lines, n)
            print(f"{name}: {rate:,.0f} reports/s, {cpu_us:,.0f} CPU µs per report ({len(lines):,} reports)")
    if args.part in ("all", "recovery"):
        for vessels in args.vessels:
            print(f"recovery after a kill, {vessels:,} tracked vessels: {recovery(vessels):.1f} s")


if __name__ == "__main__":
    main()
