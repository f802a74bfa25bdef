"""Benchmark: the cost of consuming one message, Faust's per-event stream against aiokafka's getmany.

Why the ingest stage reads batches with aiokafka inside the Faust worker: both
consumers read the same N messages from one Tansu broker, each in its own
process, and do nothing with them.
Run: python scripts/bench_consume.py [--messages 60000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.bench_spine import feed_lines
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import start_local_broker
from streams.kafka.clients import KafkaBatchConsumer
from streams.kafka.topics import INTERCEPTIONS
from streams.sources.replay import replay_lines


async def consume_with_aiokafka(broker_url: str, count: int) -> tuple[float, float]:
    consumer = KafkaBatchConsumer(broker_url, f"bench-consume-{os.getpid()}", [INTERCEPTIONS])
    await consumer.start()
    seen, started, cpu0 = 0, 0.0, 0.0
    try:
        while seen < count:
            batch = await consumer.next_batch(5000, 0.2)
            if batch and not seen:
                started, cpu0 = time.perf_counter(), time.process_time()
            seen += len(batch)
    finally:
        await consumer.stop()
    return seen / (time.perf_counter() - started), (time.process_time() - cpu0) / seen * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=60_000)
    args = parser.parse_args()
    lines = feed_lines(args.messages, month="2025-04")
    with start_local_broker() as broker:
        asyncio.run(ensure_topics(broker.url, 4))
        asyncio.run(replay_lines(iter(lines), INTERCEPTIONS, broker.url))
        out = Path(tempfile.mkdtemp()) / "faust.txt"
        bench_spine = str(Path(__file__).with_name("bench_spine.py"))
        subprocess.run([sys.executable, bench_spine, "--baseline-worker", broker.url, str(len(lines)),
                        str(out)], check=True, timeout=600,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        faust_rate, faust_cpu, _ = (float(v) for v in out.read_text().split())
        print(f"Faust per-event agent: {faust_rate:,.0f} messages/s, "
              f"{faust_cpu / len(lines) * 1e6:.1f} CPU µs per message")  # fmt: skip
        rate, cpu_us = asyncio.run(consume_with_aiokafka(broker.url, len(lines)))
        print(f"aiokafka getmany: {rate:,.0f} messages/s, {cpu_us:.1f} CPU µs per message")


if __name__ == "__main__":
    main()
