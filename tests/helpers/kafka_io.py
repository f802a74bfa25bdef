"""Reading and writing the test broker's topics."""

from __future__ import annotations

import asyncio
from typing import Any

from streams.kafka.broker import LocalBroker
from streams.kafka.security import Brokers
from streams.sources.replay import replay_lines


async def read_topic(url: Brokers, topic: str, count: int, timeout_s: float = 60) -> list[Any]:
    """The first `count` records of a topic (all partitions), or fail after timeout_s."""
    consumer = _reader(url, topic)
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(records) < count:
                batch = await consumer.getmany(timeout_ms=1000)
                for partition_records in batch.values():
                    records += partition_records
    finally:
        await consumer.stop()
    return records


async def read_all(url: Brokers, topic: str, quiet_s: float = 3.0) -> list[Any]:
    """Every record of a topic: read until nothing more comes for quiet_s."""
    consumer = _reader(url, topic)
    await consumer.start()
    records: list[Any] = []
    try:
        while batch := await consumer.getmany(timeout_ms=int(quiet_s * 1000)):
            for partition_records in batch.values():
                records += partition_records
    finally:
        await consumer.stop()
    return records


def _reader(url: Brokers, topic: str) -> Any:
    from aiokafka import AIOKafkaConsumer

    from streams.kafka.security import as_connection
    from streams.kafka.topics import MAX_MESSAGE_BYTES

    return AIOKafkaConsumer(
        topic,
        **as_connection(url).client_kwargs(),
        max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )


def send(broker: LocalBroker, topic: str, lines: list[bytes]) -> int:
    """Produce lines to a topic on the test broker."""
    return asyncio.run(replay_lines(iter(lines), topic, broker.url))
