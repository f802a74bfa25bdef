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
from streams.stages.enrich import Enriched, first_copies
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


def merged(first: PreparedBatch, then: PreparedBatch) -> PreparedBatch:
    """Two prepared batches, records in that order, as one: what preparing all their records at once
    gives (a report in both keeps its first copy; the later one counts as an in-batch copy)."""
    events = first_copies(first.events + then.events)
    copies = first.in_batch_copies + then.in_batch_copies + len(first.events) + len(then.events) - len(events)
    records = [*first.records, *then.records]
    return PreparedBatch(records, events, first.dead_letters + then.dead_letters, copies)


class BatchSlot:
    """The one prepared batch waiting for its forward. Until the forward takes it, the reader adds
    what arrives to it, up to `limit` records: each forward takes everything read so far, rather
    than a report waiting behind a batch read before it came (issue 24: about three forwards)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.batch: PreparedBatch | None = None
        self.filled = asyncio.Event()
        self.emptied = asyncio.Event()

    def room(self) -> int:
        """How many more records the waiting batch may take."""
        return self.limit - (len(self.batch.records) if self.batch is not None else 0)

    def add(self, batch: PreparedBatch) -> None:
        self.batch = batch if self.batch is None else merged(self.batch, batch)
        self.filled.set()

    def take(self) -> PreparedBatch | None:
        """The waiting batch, if any; the slot is empty after."""
        batch, self.batch = self.batch, None
        self.filled.clear()
        self.emptied.set()
        return batch


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
    """Read and prepare the next batch while one is forwarded; commit each batch after its forward.

    Two steps joined by a one-batch slot (`BatchSlot`): the event loop reads
    and prepares what arrives while ClickHouse (in a thread) or the broker
    takes the current batch, and the next forward takes all of it.
    """
    slot = BatchSlot(batch_size)

    async def read_and_prepare() -> None:
        while True:
            while slot.room() <= 0:
                slot.emptied.clear()
                await slot.emptied.wait()
            records = await consumer.next_batch(slot.room(), within_s)
            if records:
                slot.add(prepare(records))

    reader = asyncio.create_task(read_and_prepare())
    try:
        while True:
            filled = asyncio.ensure_future(slot.filled.wait())
            await asyncio.wait({filled, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not filled.done():
                filled.cancel()
                reader.result()  # re-raises the reader's fault
            batch = slot.take()
            assert batch is not None, "the slot was filled"
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
