"""Sink stage: an internal topic to ClickHouse in batches; every record is checked like input.

`dlq` and `alerts` are written by the worker, but anyone who can produce to
the broker can write to them too, so a record that does not decode is never
allowed to stop the sink: it becomes a dead letter with its topic, partition
and offset, and the sink goes on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Generic, TypeVar

from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel, ValidationError

from schemas.rejection import DeadLetter
from streams.kafka.clients import KafkaBatchConsumer
from streams.stages.dead_letters import undecodable_letter
from streams.stages.poison import error_text

M = TypeVar("M", bound=BaseModel)


class TopicToTable(Generic[M]):
    """Reads a topic in batches of up to `within_s`, decodes each record as `model`, writes, commits."""

    def __init__(
        self,
        consumer: KafkaBatchConsumer,
        model: type[M],
        write: Callable[[Sequence[M]], None],
        undecodable: Callable[[list[DeadLetter]], Awaitable[None]],
        batch_size: int,
        within_s: float,
        retry: Callable[[Callable[[], Awaitable[None]]], Awaitable[None]] | None = None,
    ) -> None:
        self.consumer = consumer
        self.retry = retry or (lambda call: call())
        self.model = model
        self.write = write
        self.undecodable = undecodable
        self.batch_size = batch_size
        self.within_s = within_s
        self.written = 0
        self.refused = 0

    async def run(self) -> None:
        """Until cancelled; faults of the broker or ClickHouse go to `retry`, and past it propagate."""
        while True:
            records = await self._next_batch()
            if not records:
                continue
            good, bad = decode_records(records, self.model)
            if bad:
                await self.undecodable(bad)
            await self.retry(partial(asyncio.to_thread, self.write, good))
            await self.retry(partial(self.consumer.commit, records))
            self.written += len(good)
            self.refused += len(bad)

    async def _next_batch(self) -> list[ConsumerRecord[bytes, bytes]]:
        records = await self.consumer.next_batch(self.batch_size, self.within_s)
        deadline = time.monotonic() + self.within_s
        while records and len(records) < self.batch_size and time.monotonic() < deadline:
            more = self.batch_size - len(records)
            records += await self.consumer.next_batch(more, max(0.0, deadline - time.monotonic()))
        return records


def decode_records(
    records: Sequence[ConsumerRecord[bytes, bytes]], model: type[M]
) -> tuple[list[M], list[DeadLetter]]:
    """Each record as `model`, or a dead letter (`undecodable_record`) naming where it was."""
    good: list[M] = []
    bad: list[DeadLetter] = []
    now = datetime.now(UTC)
    for r in records:
        try:
            if r.value is None:
                raise ValueError("the record has no value")
            good.append(model.model_validate_json(r.value))
        except (ValidationError, ValueError) as error:
            why = f"not a {model.__name__}: {error_text(error)}"
            bad.append(undecodable_letter(r.topic, r.partition, r.offset, r.value, why, now))
    return good, bad
