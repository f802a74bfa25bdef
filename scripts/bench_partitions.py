"""Benchmark: partitioning a batch of keys, aiokafka's per-key murmur2 against streams/kafka/partitions.py.

Keys as the store stage sends them to events.enriched (authority and report id),
from the sample feed's generator; the least CPU time of five runs of each.
Run: python scripts/bench_partitions.py [--keys 5000] [--partitions 4]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from aiokafka.partitioner import DefaultPartitioner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from schemas.keys import report_identity
from scripts.bench_spine import feed_lines
from streams.kafka.partitions import partitions_of


def least_cpu_s(work: Callable[[], object], runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=5000)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    keys = []
    for line in feed_lines(args.keys, month="2025-04"):
        try:
            report = orjson.loads(line)
            keys.append(report_identity(str(report["authority"]), str(report["report_id"])).encode())
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue  # the feed's malformed lines have no key
    every = list(range(args.partitions))
    partitioner = DefaultPartitioner()
    assert partitions_of(keys, args.partitions).tolist() == [partitioner(k, every, every) for k in keys]
    per_key = least_cpu_s(lambda: [partitioner(k, every, every) for k in keys])
    batched = least_cpu_s(lambda: partitions_of(keys, args.partitions).tolist())
    n = len(keys)
    print(f"{n:,} keys, {args.partitions} partitions: aiokafka per key {1e6 * per_key / n:.2f} CPU µs per "
          f"key; partitions_of {1e6 * batched / n:.2f} µs ({per_key / batched:.0f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
