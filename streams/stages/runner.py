"""How a stage runs: read a batch, prepare it (CPU), forward it (I/O), dead-letter the rest, commit.

Order matters for exactness: the forward (ClickHouse first, then the topics),
then the dead letters, then the offsets. A crash anywhere replays the batch;
the events table then recognises each report (see stages/store.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Protocol

from aiokafka.structs import ConsumerRecord

from schemas.rejection import DeadLetter, RejectReason
from streams.kafka.clients import KafkaBatchConsumer, KafkaEventPublisher
from streams.stages.dead_letters import publish_dead_letters
from streams.stages.enrich import Enriched
from streams.stages.poison import internal_letter, isolate_poison

log = logging.getLogger(__name__)

Records = Sequence[ConsumerRecord[bytes, bytes]]
Forward = Callable[[KafkaEventPublisher, Sequence[Enriched]], Awaitable[int]]
"""Stores or hands on accepted reports; returns how many were resends. Faults propagate."""
Retry = Callable[[Callable[[], Awaitable[None]]], Awaitable[None]]


@dataclass(frozen=True)
class PreparedBatch:
    """A batch of records made ready for its forward: events in order, and dead letters."""

    records: Records
    events: list[Enriched]
    dead_letters: list[DeadLetter]
    in_batch_copies: int


@dataclass
class StageCounts:
    """For /status: records handled, and reports that were resends."""

    processed: int = 0
    duplicates: int = 0


class BatchObserver(Protocol):
    """Told of each batch a stage finished (streams/worker/metrics.py counts them)."""

    def batch_done(self, records: int, rejected: Sequence[DeadLetter], resends: int, seconds: float) -> None:
        """`records` read, of them `rejected` to dlq and `resends` known already; forwarded in `seconds`."""


class _Unobserved:
    def batch_done(self, records: int, rejected: Sequence[DeadLetter], resends: int, seconds: float) -> None:
        pass


UNOBSERVED: BatchObserver = _Unobserved()


async def forward_batch(
    batch: PreparedBatch,
    forward: Forward,
    publisher: KafkaEventPublisher,
    counts: StageCounts,
    observer: BatchObserver = UNOBSERVED,
) -> None:
    """Forward a batch; a report that fails on its own goes to `dlq` as internal_error."""
    started = time.perf_counter()
    resends = batch.in_batch_copies

    async def attempt(events: Sequence[Enriched]) -> None:
        nonlocal resends
        found = await forward(publisher, events)
        counts.duplicates += found
        resends += found

    poison = await isolate_poison(batch.events, attempt)
    now = datetime.now(UTC)
    letters = batch.dead_letters + [
        internal_letter(RejectReason.INTERNAL_ERROR, text, e.raw, *e.source, now) for e, text in poison
    ]
    await publish_dead_letters(publisher, letters)
    counts.processed += len(batch.records)
    counts.duplicates += batch.in_batch_copies
    observer.batch_done(len(batch.records), letters, resends, time.perf_counter() - started)


async def run_batches(
    prepare: Callable[[Records], PreparedBatch],
    forward: Forward,
    consumer: KafkaBatchConsumer,
    publisher: KafkaEventPublisher,
    counts: StageCounts,
    batch_size: int,
    within_s: float,
    retry: Retry,
    observer: BatchObserver = UNOBSERVED,
) -> None:
    """Read and prepare batch N+1 while batch N is forwarded; commit each batch after its forward.

    Two steps joined by a one-slot queue: the event loop prepares the next
    batch while ClickHouse (in a thread) or the broker takes the current one.
    """
    ready: asyncio.Queue[PreparedBatch] = asyncio.Queue(maxsize=1)

    async def read_and_prepare() -> None:
        while True:
            records = await consumer.next_batch(batch_size, within_s)
            if records:
                await ready.put(prepare(records))

    reader = asyncio.create_task(read_and_prepare())
    try:
        while True:
            next_ready = asyncio.ensure_future(ready.get())
            await asyncio.wait({next_ready, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not next_ready.done():
                next_ready.cancel()
                reader.result()  # re-raises the reader's fault
            batch = next_ready.result()
            try:
                await retry(partial(forward_batch, batch, forward, publisher, counts, observer))
            except Exception:
                first, last = batch.records[0], batch.records[-1]
                log.error(
                    "batch failed: %s[%d]@%d .. %s[%d]@%d",
                    first.topic, first.partition, first.offset,
                    last.topic, last.partition, last.offset,
                )  # fmt: skip
                raise
            await retry(partial(consumer.commit, batch.records))
    finally:
        reader.cancel()
