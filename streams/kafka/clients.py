"""Kafka adapters of the ingest stage: a batch consumer with manual commits and a publisher.

Consuming through Faust's per-event stream costs over 100 CPU µs per message
here against under 5 µs for aiokafka's `getmany` (scripts/bench_consume.py),
so the ingest stage reads whole batches with aiokafka inside the Faust worker
and commits them only after they are in ClickHouse and on the output topics.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from streams.kafka.partitions import partitions_of
from streams.kafka.security import Brokers, as_connection, start_client
from streams.kafka.topics import MAX_MESSAGE_BYTES

LAG_EVERY_S = 1.0  # how often a consumer asks for its partitions' end offsets


class PartitionLag(NamedTuple):
    """Records on one partition that a consumer has not read yet."""

    topic: str
    partition: int
    lag: int


class KafkaBatchConsumer:
    """A consumer-group member that hands out batches and commits them explicitly."""

    def __init__(
        self,
        brokers: Brokers,
        group_id: str,
        topics: Sequence[str],
        max_poll_interval_s: float = 300.0,
        fetch_wait_s: float = 0.5,
    ) -> None:
        """`max_poll_interval_s`: the longest time between batches before the group drops this member;
        `fetch_wait_s`: the longest the broker may hold a fetch open while it has no new records."""
        self._connection = as_connection(brokers)
        self._consumer = AIOKafkaConsumer(
            *topics,
            **self._connection.client_kwargs(),
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
            fetch_max_bytes=4 * MAX_MESSAGE_BYTES,
            **self._connection.group_kwargs(),
            max_poll_interval_ms=int(max_poll_interval_s * 1000),
            fetch_max_wait_ms=int(fetch_wait_s * 1000),
        )
        self._lag: list[PartitionLag] = []
        self._lag_asked = 0.0

    async def start(self) -> None:
        """Join the group."""
        await start_client(self._consumer, self._connection)

    async def stop(self) -> None:
        """Leave the group without committing anything further."""
        await self._consumer.stop()

    async def next_batch(self, max_records: int, within_s: float) -> list[ConsumerRecord[bytes, bytes]]:
        """Up to max_records messages, waiting at most within_s for the first."""
        fetched = await self._consumer.getmany(timeout_ms=int(within_s * 1000), max_records=max_records)
        now = time.monotonic()
        if now - self._lag_asked >= LAG_EVERY_S:
            self._lag_asked = now
            await self._measure_lag()
        return [record for records in fetched.values() for record in records]

    async def _measure_lag(self) -> None:
        """End offsets against this consumer's positions, kept for `lag` (asked at most once a second)."""
        assigned = sorted(self._consumer.assignment())
        if not assigned:
            self._lag = []
            return
        try:
            ends = await asyncio.wait_for(self._consumer.end_offsets(assigned), LAG_EVERY_S)
            positions = [await asyncio.wait_for(self._consumer.position(tp), LAG_EVERY_S) for tp in assigned]
        except (KafkaError, TimeoutError):
            return  # a broker fault shows elsewhere (health); the last figures stand
        self._lag = [
            PartitionLag(tp.topic, tp.partition, max(0, ends[tp] - position))
            for tp, position in zip(assigned, positions)
        ]

    def lag(self) -> list[PartitionLag]:
        """The lag of each assigned partition when last measured (no broker call)."""
        return list(self._lag)

    async def commit(self, batch: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Commit past the last offset of each partition in the batch."""
        last: dict[TopicPartition, int] = {}
        for record in batch:
            tp = TopicPartition(record.topic, record.partition)
            last[tp] = max(last.get(tp, -1), record.offset)
        await self._consumer.commit({tp: OffsetAndMetadata(o + 1, "") for tp, o in last.items()})


class KafkaEventPublisher:
    """Publishes keyed messages and waits until the broker has them all."""

    def __init__(self, brokers: Brokers) -> None:
        self._connection = as_connection(brokers)
        self._producer = AIOKafkaProducer(
            **self._connection.client_kwargs(),
            acks="all",
            linger_ms=5,
            max_batch_size=512 * 1024,
            max_request_size=MAX_MESSAGE_BYTES,
        )

    async def start(self) -> None:
        """Connect to the broker."""
        await start_client(self._producer, self._connection)

    async def stop(self) -> None:
        """Flush and disconnect."""
        await self._producer.stop()

    async def cluster_id(self, timeout_s: float) -> str:
        """The broker's cluster id, from its metadata; raises KafkaError or TimeoutError without an answer.

        A broker that lost its log (the bundled one is memory-only) comes back
        with a new id, and its offsets begin again: see `streams/worker/supervise.py`.
        """
        client = self._producer.client
        node = client.get_random_node()
        if node is None:
            raise KafkaConnectionError("no broker is known yet")
        response = await asyncio.wait_for(client.send(node, MetadataRequest([])), timeout_s)
        return str(getattr(response, "cluster_id", None) or "")

    async def publish(self, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
        """Send (key, value) pairs; returns once every one is acknowledged."""
        futures = [await self._producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*futures)

    async def publish_to_partitions(self, topic: str, messages: Sequence[tuple[int, bytes, bytes]]) -> None:
        """Send (partition, key, value) triples to the partitions they name."""
        futures = [await self._producer.send(topic, v, key=k, partition=p) for p, k, v in messages]
        await asyncio.gather(*futures)

    async def publish_records(
        self, topic: str, partition: int, records: Sequence[tuple[bytes, bytes | None]]
    ) -> None:
        """Send (key, value) records to one partition as record batches; a None value is a tombstone."""
        await asyncio.gather(*await self._send_batches(topic, partition, records))

    async def publish_batched(self, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
        """Like `publish`, but as whole record batches per partition (far fewer calls per message).

        Partitions come from the same murmur2 rule as `publish` and the Java
        client (streams/kafka/partitions.py, the whole batch at once), so a key
        lands on the same partition whichever is used.
        """
        if not messages:
            return
        partitions = sorted(await self._producer.partitions_for(topic))
        chosen = partitions_of([key for key, _ in messages], len(partitions)).tolist()
        by_partition: dict[int, list[tuple[bytes, bytes | None]]] = defaultdict(list)
        for index, message in zip(chosen, messages):
            by_partition[partitions[index]].append(message)
        futures = []
        for partition, items in by_partition.items():
            futures += await self._send_batches(topic, partition, items)
        await asyncio.gather(*futures)

    async def _send_batches(
        self, topic: str, partition: int, records: Sequence[tuple[bytes, bytes | None]]
    ) -> list[asyncio.Future[Any]]:
        futures = []
        batch = self._producer.create_batch()
        for key, value in records:
            if batch.append(key=key, value=value, timestamp=None) is None:
                futures.append(await self._producer.send_batch(batch, topic, partition=partition))
                batch = self._producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise ValueError(f"a message of {len(value or b'')} bytes does not fit in a batch")
        futures.append(await self._producer.send_batch(batch, topic, partition=partition))
        return futures
