"""Faults versus poison: a broker or ClickHouse fault stops the worker, one bad message never does.

A batch that fails as a whole is split in halves until the message that
fails on its own is found; it goes to `dlq` as `internal_error` and the rest
of the batch is stored. A fault of the broker or ClickHouse (a lost
connection, a timeout) is not split: it propagates. Nor is a failure that
every message of a batch shares, which is a fault too, whatever its type.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from aiokafka.errors import KafkaError
from clickhouse_connect.driver.exceptions import OperationalError

from schemas.errors import BrokerUnavailableError, SinkUnavailableError
from schemas.rejection import DeadLetter, Rejected, RejectReason

log = logging.getLogger(__name__)
T = TypeVar("T")
FAULTS: tuple[type[BaseException], ...] = (
    KafkaError, OperationalError, ConnectionError, TimeoutError, BrokerUnavailableError,
    SinkUnavailableError, MemoryError,
)  # fmt: skip
MAX_ERROR_TEXT = 200
MAX_KEPT_RAW = 1 << 20  # of an internal record's bytes; a report is at most 1 MiB anyway


def is_fault(error: BaseException) -> bool:
    """A failure of the broker or ClickHouse rather than of one message."""
    return isinstance(error, FAULTS)


async def isolate_poison(
    items: Sequence[T], run: Callable[[Sequence[T]], Awaitable[None]]
) -> list[tuple[T, str]]:
    """Run the whole batch; on a non-fault failure, halves, until the failing items are alone.

    Returns the poison items with a short error text each; raises faults, and
    a SinkUnavailableError when every item of a batch of several fails.
    """
    poison = await _bisect(items, run)
    if len(items) > 1 and len(poison) == len(items):
        raise SinkUnavailableError(f"every message of a batch of {len(items)} failed: {poison[0][1]}")
    for _, text in poison:
        log.warning("poison message isolated: %s", text)
    return poison


async def _bisect(items: Sequence[T], run: Callable[[Sequence[T]], Awaitable[None]]) -> list[tuple[T, str]]:
    if not items:
        return []
    try:
        await run(items)
        return []
    except Exception as error:
        if is_fault(error):
            raise
        if len(items) == 1:
            return [(items[0], error_text(error))]
        middle = len(items) // 2
        return await _bisect(items[:middle], run) + await _bisect(items[middle:], run)


def error_text(error: BaseException) -> str:
    """`Type: message`, one line, short enough for a dead letter."""
    text = f"{type(error).__name__}: {error}".replace("\n", " ")
    return text[:MAX_ERROR_TEXT]


def internal_letter(
    reason: RejectReason, detail: str, raw: bytes | None, topic: str, partition: int, offset: int,
    received_at: datetime,
) -> DeadLetter:
    """The dead letter of a message the worker could not handle, its bytes kept (the first MiB)."""
    raw = raw or b""
    if len(raw) > MAX_KEPT_RAW:
        detail = f"{detail} (first {MAX_KEPT_RAW} of {len(raw)} bytes kept)"
        raw = raw[:MAX_KEPT_RAW]
    return DeadLetter.of(Rejected(reason=reason, detail=detail), raw, topic, partition, offset, received_at)
