"""Benchmark: the whole spine (validate, enrich, ClickHouse, events.enriched) on one worker.

In one run, on one Tansu broker:
1. produce N interception reports (the sample feed's generator, scaled up);
2. baseline: a naive Faust agent that takes the same N messages one event at
   a time and does nothing with them (the floor of Faust's own cost);
3. spine: `borderwatch worker` (chdb) on the same N messages;
   The worker's CPU counts from its first answer (start and imports left out; the group join and
   one /status a second in, the most any benchmark here polls); its rate spans its first to its last
   insert (ClickHouse's insert times);
4. latency: reports replayed at a steady rate; report-to-ClickHouse latency is
   ClickHouse's insert time (`inserted_at`, the insert's own clock) minus the
   Kafka message timestamp (set by the replaying producer when it sends), per
   report, with its two parts: until the worker starts preparing the report's
   batch (`received_at`), and from there to the insert;
5. detectors: the spine's interception reports, then half of them and half AIS
   positions (1,000 vessels), both in observed_at order, each on a fresh
   broker, through a worker without and with the detectors, alternating, three
   runs each; the worker's CPU per report until every report is stored and
   detected, the least of the runs compared.
Prints events/s, CPU seconds and peak RSS of each worker, latency p50/p99, and
the detectors' added cost per report.
With `--profile out.svg`, py-spy samples the spine worker while it handles the N
reports and writes a flame graph (`out.txt`: py-spy's raw collapsed stacks).
Run: python scripts/bench_spine.py [--reports 60000] [--rate 2000] [--seconds 20] [--part all|spine|detectors]
     [--detectors on|off] [--profile out.svg]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import faust
import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.bench_clock import insert_span, poll_status
from scripts.make_sample_feed import generate
from streams.client.worker_api import (
    WorkerApi,
    start_worker_process,
    stop_process,
    wait_for_worker,
)
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import free_port, start_local_broker
from streams.kafka.topics import INTERCEPTIONS, VESSELS
from streams.sources.replay import replay_lines

ROOT = Path(__file__).resolve().parents[1]


def feed_lines(count: int, month: str) -> list[bytes]:
    scale = 1.0
    while True:
        lines = generate(month=month, scale=scale, vessels=0).interceptions
        if len(lines) >= count:
            return lines[:count]
        scale *= 1.5 * count / max(len(lines), 1)


def in_time_order(lines: list[bytes]) -> list[bytes]:
    """Lines sorted by observed_at; lines without one (malformed on purpose) keep their place at the end."""

    def observed(line: bytes) -> str:
        try:
            return str(orjson.loads(line).get("observed_at", "~"))
        except (orjson.JSONDecodeError, AttributeError):
            return "~"

    return sorted(lines, key=observed)


def peak_rss_mb(pid: int) -> float:
    return status_mb(pid, "VmHWM")


def status_mb(pid: int, field: str) -> float:
    """A memory figure of /proc/PID/status in MB: VmHWM (peak RSS), RssAnon, RssFile."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_baseline_worker(broker_url: str, count: int, out: Path) -> None:
    """The naive per-event agent, run in its own process by `--baseline-worker`."""
    app = faust.App(
        f"bench-baseline-{os.getpid()}", broker=broker_url, value_serializer="raw",
        web_enabled=False, topic_disable_leader=True, broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0, broker_rebalance_timeout=4.0,
        datadir=tempfile.mkdtemp(prefix="bench-baseline-"), store="memory://",
    )  # fmt: skip
    topic = app.topic(INTERCEPTIONS, value_serializer="raw")
    state = {"seen": 0, "t0": 0.0, "cpu0": 0.0}

    @app.agent(topic)
    async def passthrough(stream: faust.StreamT) -> None:
        async for _value in stream:
            if state["seen"] == 0:
                state["t0"], state["cpu0"] = time.perf_counter(), time.process_time()
            state["seen"] += 1
            if state["seen"] >= count:
                elapsed = time.perf_counter() - state["t0"]
                cpu = time.process_time() - state["cpu0"]
                out.write_text(f"{count / elapsed} {cpu} {peak_rss_mb(os.getpid())}")
                os._exit(0)

    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


def measure_baseline(broker_url: str, count: int) -> tuple[float, float, float]:
    out = Path(tempfile.mkdtemp()) / "baseline.txt"
    command = [sys.executable, __file__, "--baseline-worker", broker_url, str(count), str(out)]
    subprocess.run(command, check=True, timeout=600, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    rate, cpu, rss = (float(v) for v in out.read_text().split())
    return rate, cpu, rss


def measure_spine(
    broker_url: str,
    count: int,
    data_dir: Path,
    rate: float,
    seconds: float,
    profile: Path | None = None,
    detectors: bool = True,
) -> dict[str, float]:
    """The worker's CPU from its first answer (imports and start done; the group join, the batches and
    one /status a second included) until every report is handled; the rate between its first and last
    insert, from ClickHouse's insert times."""
    worker, base = start_bench_worker(
        broker_url, data_dir, worker_id="bench-spine", detectors=str(detectors).lower()
    )
    try:
        process = psutil.Process(worker.pid)
        rss_at_start = peak_rss_mb(worker.pid)  # imports, chdb and its tables, before most of the data
        spy = start_profile(worker.pid, profile) if profile else None
        cpu0 = sum(process.cpu_times()[:2])
        poll_status(base, lambda s: s.get("processed", 0) >= count)
        cpu = sum(process.cpu_times()[:2]) - cpu0
        if spy is not None:
            stop_profile(spy)
        span = insert_span(base)
        result = {"rate": span.rate, "cpu": cpu, "cpu_us": 1e6 * cpu / count, "rss": peak_rss_mb(worker.pid),
                  "rss_at_start": rss_at_start}  # fmt: skip
        # RSS counts the pages of mapped files too: chdb's library code alone is some 190 MB of them
        # (shared, dropped under pressure, not in a worker that talks to a ClickHouse server).
        result.update(anon=status_mb(worker.pid, "RssAnon"), file=status_mb(worker.pid, "RssFile"))

        steady = feed_lines(int(rate * seconds), month="2024-09")
        started = time.time()
        asyncio.run(replay_lines(iter(steady), INTERCEPTIONS, broker_url, rate))
        poll_status(base, lambda s: s.get("processed", 0) >= count + len(steady))
        spans = ("published_at, inserted_at", "published_at, received_at", "received_at, inserted_at")
        quantiles = ", ".join(f"quantiles(0.5, 0.99)(dateDiff('millisecond', {s}))" for s in spans)
        answer = _rows(base, f"SELECT {quantiles}, count() FROM borderwatch.events "
                      f"WHERE published_at >= fromUnixTimestamp64Milli({int(started * 1000)})")  # fmt: skip
        (p50, p99), (read50, read99), (store50, store99), measured = answer[0]
        result.update(p50=p50, p99=p99, latency_reports=measured)
        result.update(read_p50=read50, read_p99=read99, store_p50=store50, store_p99=store99)
        return result
    finally:
        stop_process(worker)


def start_profile(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the worker (100 samples/s, every thread, the GIL not required) into a flame graph."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy: pip install -e '.[dev]'")
    fmt = "raw" if out.suffix == ".txt" else "flamegraph"  # raw: collapsed stacks, for counting
    command = [spy, "record", "--pid", str(pid), "--rate", "100", "--format", fmt, "--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_profile(spy: subprocess.Popen[bytes]) -> None:
    """SIGINT: py-spy writes its file and exits."""
    spy.send_signal(signal.SIGINT)
    _, err = spy.communicate(timeout=120)
    if spy.returncode not in (0, -signal.SIGINT):
        raise SystemExit(f"py-spy failed ({spy.returncode}): {err.decode(errors='replace')[-500:]}")


# Leaves where a thread waits, which py-spy does not always see as idle: the thread pool's queue, the
# event loop's epoll, a lock.
IDLE_LEAVES = ("_worker (concurrent/futures/thread.py)", "select (selectors.py)", "wait (threading.py)")


def top_frames(raw: Path, n: int = 10) -> list[tuple[str, float, float]]:
    """From py-spy's raw stacks, waiting left out: the `n` functions with the most samples at the top
    of the stack, as (function, % of busy samples on the stack, % at its top)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]  # a function, not a line
        if any(wait in frames[-1] for wait in IDLE_LEAVES):
            continue
        samples = int(count)
        total += samples
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + samples
        own[frames[-1]] = own.get(frames[-1], 0) + samples
    ranked = sorted(inclusive, key=lambda f: (-own.get(f, 0), -inclusive[f]))[:n]
    return [(f, 100 * inclusive[f] / total, 100 * own.get(f, 0) / total) for f in ranked]


def measure_detectors(lines: dict[str, list[bytes]], partitions: int, detectors: bool) -> dict[str, float]:
    """CPU per report of a worker on a mixed feed, from its first report until all are handled."""
    total = sum(len(v) for v in lines.values())
    with tempfile.TemporaryDirectory(prefix="bench-detect-") as tmp, start_local_broker() as broker:
        asyncio.run(ensure_topics(broker.url, partitions))
        for topic, topic_lines in lines.items():
            asyncio.run(replay_lines(iter(topic_lines), topic, broker.url))
        worker, base = start_bench_worker(
            broker.url, Path(tmp) / "data", worker_id="bench-detect", partitions=str(partitions),
            detectors=str(detectors).lower(),
        )  # fmt: skip
        try:
            process = psutil.Process(worker.pid)
            t0, cpu0 = time.perf_counter(), sum(process.cpu_times()[:2])
            # Detection runs behind ingest: with the detectors, wait until it has seen every fix.
            fixes = len(lines[VESSELS]) if detectors else 0
            status = poll_status(base, lambda s: s.get("processed", 0) >= total
                                 and s.get("detect", {}).get("fixes", 0) >= fixes)  # fmt: skip
            elapsed = time.perf_counter() - t0  # from the worker's first answer, to within the 1 s poll
            cpu = sum(process.cpu_times()[:2]) - cpu0
            detect = status.get("detect", {})
            return {"rate": total / elapsed, "cpu_us": 1e6 * cpu / total, "rss": peak_rss_mb(worker.pid),
                    "alerts": detect.get("alerts", 0),
                    "detect_us": 1e6 * detect.get("cpu_s", 0.0) / total}  # fmt: skip
        finally:
            stop_process(worker)


def start_bench_worker(
    broker_url: str, data_dir: Path, **settings: str
) -> tuple[subprocess.Popen[bytes], WorkerApi]:
    """A worker process on its own data dir; returns it and its base URL once it answers."""
    port = free_port()
    log = data_dir / "worker.log"
    worker = start_worker_process(
        log, kafka=broker_url, data_dir=str(data_dir), web_port=str(port), **settings
    )
    base = wait_for_worker(worker, f"http://127.0.0.1:{port}", data_dir, log)
    return worker, base


def _rows(base: WorkerApi, query: str) -> list[list[object]]:
    answer = base.sql(query)
    if "error" in answer:
        raise RuntimeError(answer["error"])
    return list(answer["rows"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=60_000)
    parser.add_argument("--rate", type=float, default=2000.0, help="steady reports/s for latency")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the steady phase")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--part", choices=("all", "spine", "detectors"), default="all")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each detectors configuration")
    parser.add_argument(
        "--detectors", choices=("on", "off"), default="on", help="the spine worker's detectors (default on)"
    )
    parser.add_argument(
        "--profile", type=Path, help="write a py-spy flame graph of the spine worker from its first "
        "answer until every report is handled (out.txt: raw stacks, top 10 printed)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.part in ("all", "spine"):
        bench_spine(args)
    if args.part in ("all", "detectors"):
        bench_detectors(args)


def bench_spine(args: argparse.Namespace) -> None:
    lines = feed_lines(args.reports, month="2025-04")
    with tempfile.TemporaryDirectory(prefix="bench-spine-") as tmp, start_local_broker() as broker:
        asyncio.run(ensure_topics(broker.url, args.partitions))
        asyncio.run(replay_lines(iter(lines), INTERCEPTIONS, broker.url))
        print(f"produced {len(lines):,} reports to {INTERCEPTIONS} ({args.partitions} partitions)")
        base_rate, base_cpu, base_rss = measure_baseline(broker.url, len(lines))
        print(f"baseline (naive per-event Faust agent): {1e6 * base_cpu / len(lines):.0f} CPU µs per report, "
              f"{base_rate:,.0f} events/s, {base_cpu:.1f} CPU s, peak RSS {base_rss:.0f} MB")  # fmt: skip
        detectors = args.detectors == "on"
        spine = measure_spine(
            broker.url, len(lines), Path(tmp) / "data", args.rate, args.seconds, args.profile, detectors
        )
        print(f"spine (validate, enrich, ClickHouse, events.enriched; detectors {args.detectors}): "
              f"{spine['cpu_us']:.0f} CPU µs per "
              f"report ({spine['cpu']:.1f} CPU s from the worker's first answer, group join and one /status "
              f"a second included), {spine['rate']:,.0f} events/s between the first and last insert, "
              f"peak RSS {spine['rss']:.0f} MB ({spine['rss_at_start']:.0f} MB at its first answer; once "
              f"every report is handled, {spine['anon']:.0f} MB anonymous and {spine['file']:.0f} MB of "
              "mapped files)")  # fmt: skip
        print(f"report-to-ClickHouse latency at {args.rate:,.0f} reports/s over {args.seconds:.0f} s "
              f"({spine['latency_reports']:,} reports): p50 {spine['p50']:.0f} ms, "
              f"p99 {spine['p99']:.0f} ms; of it, until the worker prepares the report: p50 "
              f"{spine['read_p50']:.0f} ms, p99 {spine['read_p99']:.0f} ms; from there to the insert: "
              f"p50 {spine['store_p50']:.0f} ms, p99 {spine['store_p99']:.0f} ms")  # fmt: skip
        print(f"spine/baseline CPU per report: {spine['cpu_us'] / (1e6 * base_cpu / len(lines)):.2f}")
        if args.profile is not None and args.profile.suffix == ".txt":
            print(
                "top 10 functions by own samples, waiting left out (% of busy samples on the stack / "
                "at its top):"
            )
            for frame, on_stack, at_top in top_frames(args.profile):
                print(f"  {on_stack:5.1f}% / {at_top:5.1f}%  {frame}")
        elif args.profile is not None:
            print(f"flame graph: {args.profile}")


def bench_detectors(args: argparse.Namespace) -> None:
    half = args.reports // 2
    # In observed_at order, as a live feed arrives (the generator writes one vessel's track after another).
    interceptions = in_time_order(feed_lines(args.reports, month="2025-03"))
    vessels = generate(month="2025-03", vessels=1000, fixes_per_vessel=max(1, half // 1000)).vessels
    feeds = {
        "interception reports": {INTERCEPTIONS: interceptions, VESSELS: []},
        "half AIS positions": {INTERCEPTIONS: interceptions[:half], VESSELS: in_time_order(vessels)},
    }
    for name, lines in feeds.items():
        # Alternating runs, the least CPU of each kept: this 2-core machine's noise only ever adds.
        runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
        for _ in range(args.repeats):
            for detectors in (False, True):
                runs[detectors].append(measure_detectors(lines, args.partitions, detectors))
        off, on = (min(runs[d], key=lambda m: m["cpu_us"]) for d in (False, True))
        cpu = {d: " / ".join(f"{m['cpu_us']:.0f}" for m in runs[d]) for d in (False, True)}
        print(f"{name}, CPU µs per report in {args.repeats} runs each: "
              f"without detectors {cpu[False]}; with {cpu[True]}")  # fmt: skip
        print(f"{name}: without detectors {off['rate']:,.0f} reports/s, {off['cpu_us']:.0f} CPU µs "
              f"per report; with detectors {on['rate']:,.0f} reports/s, {on['cpu_us']:.0f} CPU µs per "
              f"report, {on['alerts']:,} alert states")  # fmt: skip
        added = 100 * (on["cpu_us"] / off["cpu_us"] - 1)
        print(f"detectors' added cost per report ({name}), whole process: {added:.0f}%")
        # The process totals move by ±20% between runs here; the detectors' own CPU does not.
        own = [m["detect_us"] for m in runs[True]]
        print(
            f"CPU µs per report inside detection code ({name}): {' / '.join(f'{v:.1f}' for v in own)}; "
            f"{100 * min(own) / off['cpu_us']:.0f}% of the spine's {off['cpu_us']:.0f}"
        )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--baseline-worker":
        url, count, out = sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
        sys.argv = [sys.argv[0], "worker"]  # faust.Worker reads the command line
        run_baseline_worker(url, count, out)
    else:
        main()
