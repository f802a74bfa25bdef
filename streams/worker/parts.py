"""The worker's parts: the one shared publisher, batch stages and topic-to-table sinks, each a named task.

Every part is started by Faust as a task (`run`), waits for the shared
publisher, reports its health by name, and stops the whole worker when it
fails (`run_or_crash`): a worker never runs on with one part dead inside it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import faust

from schemas.rejection import DeadLetter
from streams.config.settings import Settings
from streams.kafka.clients import KafkaBatchConsumer, KafkaEventPublisher
from streams.kafka.security import KafkaConnection
from streams.sinks.topic_to_table import TopicToTable
from streams.stages.dead_letters import publish_dead_letters
from streams.stages.runner import Forward, PreparedBatch, Records, Retry, StageCounts, run_batches
from streams.worker.health import Health
from streams.worker.metrics import WorkerMetrics
from streams.worker.supervise import retry_faults, run_or_crash, watch_broker


class SharedPublisher:
    """The worker's one Kafka publisher, open while the worker runs; it also watches the broker.

    aiokafka's producer needs the running loop, so it is made in `run` and the
    other parts wait for it with `ready`.
    """

    part = "broker"

    def __init__(
        self, app: faust.App, kafka: KafkaConnection, health: Health, cluster: str, fault_limit_s: float
    ) -> None:
        self.app = app
        self.kafka = kafka
        self.health = health
        self.cluster = cluster
        self.fault_limit_s = fault_limit_s
        self._publisher: KafkaEventPublisher | None = None
        self._ready = asyncio.Event()
        health.starting(self.part)

    async def run(self) -> None:
        publisher = KafkaEventPublisher(self.kafka)
        await publisher.start()
        self._publisher = publisher
        self._ready.set()
        try:
            await run_or_crash(self.app, self.health, self.part, self._watch)
        finally:
            await publisher.stop()

    async def _watch(self) -> None:
        assert self._publisher is not None
        await watch_broker(self.health, self._publisher.cluster_id, self.cluster, self.fault_limit_s)

    @property
    def started(self) -> bool:
        return self._ready.is_set()

    async def ready(self) -> KafkaEventPublisher:
        """The publisher, once it is open."""
        await self._ready.wait()
        assert self._publisher is not None
        return self._publisher

    async def publish(self, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
        await (await self.ready()).publish(topic, messages)

    async def publish_one(self, topic: str, key: bytes, value: bytes) -> None:
        await self.publish(topic, [(key, value)])

    async def publish_batched(self, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
        """Whole record batches, partitioned by murmur2 as replay's producer partitions."""
        await (await self.ready()).publish_batched(topic, messages)

    async def dead_letter(self, letters: list[DeadLetter]) -> None:
        await publish_dead_letters(await self.ready(), letters)


@dataclass(frozen=True)
class PartContext:
    """What every part of one worker shares: its app, settings, broker, health, publisher, counts and
    metrics."""

    app: faust.App
    settings: Settings
    kafka: KafkaConnection
    health: Health
    publisher: SharedPublisher
    counts: StageCounts
    metrics: WorkerMetrics

    def group(self, part: str) -> str:
        """A batch consumer's own consumer group."""
        return f"{self.settings.worker_id}-{part}"

    def retry(self, part: str) -> Retry:
        """Faults of `part` retried with backoff up to the fault limit, shown in /health meanwhile."""
        return partial(retry_faults, self.health, part, self.settings.fault_limit_s)

    def add(self, part: str, run: Callable[[], Awaitable[None]]) -> None:
        """Start `run` with the worker as the part named `part`."""
        self.health.starting(part)
        self.app.task(run)


class BatchStage:
    """Batches of `topics` through prepare (CPU) and forward (I/O), in a consumer group of their own."""

    def __init__(
        self,
        context: PartContext,
        part: str,
        topics: tuple[str, ...],
        prepare: Callable[[Records], PreparedBatch],
        forward: Forward,
    ) -> None:
        self.context, self.part, self.topics = context, part, topics
        self.prepare, self.forward = prepare, forward
        context.add(part, self.run)

    async def run(self) -> None:
        c = self.context
        publisher = await c.publisher.ready()
        consumer = KafkaBatchConsumer(
            c.kafka, c.group(self.part), self.topics, fetch_wait_s=c.settings.fetch_wait_s
        )
        await consumer.start()
        c.metrics.watch_consumer(self.part, consumer)
        batches = partial(
            run_batches, self.prepare, self.forward, consumer, publisher, c.counts, c.settings.batch_size,
            c.settings.batch_within_s, c.retry(self.part), c.metrics.stage(self.part),
        )  # fmt: skip
        try:
            await run_or_crash(c.app, c.health, self.part, batches)
        finally:
            await consumer.stop()


class TopicTableSink:
    """A topic to a ClickHouse table; a record that is not a `model` goes to `undecodable`."""

    def __init__(
        self,
        context: PartContext,
        part: str,
        topic: str,
        model: Any,
        write: Callable[[Any], None],
        undecodable: Callable[[list[DeadLetter]], Awaitable[None]],
        within_s: float,
    ) -> None:
        self.context, self.part, self.topic, self.model = context, part, topic, model
        self.write, self.undecodable, self.within_s = write, undecodable, within_s
        self.written = 0
        context.add(part, self.run)

    async def run(self) -> None:
        c = self.context
        await c.publisher.ready()
        consumer = KafkaBatchConsumer(c.kafka, c.group(self.topic), (self.topic,))
        await consumer.start()
        c.metrics.watch_consumer(self.part, consumer)
        sink = TopicToTable(
            consumer, self.model, self.write, self.undecodable, c.settings.batch_size, self.within_s,
            c.retry(self.part),
        )  # fmt: skip
        try:
            await run_or_crash(c.app, c.health, self.part, sink.run)
        finally:
            await consumer.stop()
