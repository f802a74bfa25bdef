"""Replay: JSON lines from a file to an input topic, each line sent exactly as written."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, NamedTuple

from aiokafka import AIOKafkaProducer

from streams.kafka.keys import message_key
from streams.kafka.security import Brokers, as_connection, start_client
from streams.kafka.topics import MAX_MESSAGE_BYTES


class NumberedLine(NamedTuple):
    """A non-empty line of a file and its number in the file, from 1."""

    number: int
    text: bytes


def open_numbered_lines(path: Path) -> Iterator[NumberedLine]:
    """Non-empty lines of a JSON lines file, gzipped or not, without the newline, with their numbers."""
    opener: Callable[..., IO[bytes]] = gzip.open if path.suffix == ".gz" else open  # type: ignore[assignment]
    with opener(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield NumberedLine(number, line)


def open_lines(path: Path) -> Iterator[bytes]:
    """Non-empty lines of a JSON lines file, gzipped or not, without the newline."""
    return (line.text for line in open_numbered_lines(path))


async def replay_lines(
    lines: Iterator[bytes],
    topic: str,
    brokers: Brokers,
    rate_per_s: float | None = None,
    on_sent: Callable[[int], None] | None = None,
) -> int:
    """Send every line to `topic`; with a rate, pace the sends. Returns the count sent."""
    connection = as_connection(brokers)
    producer = AIOKafkaProducer(
        **connection.client_kwargs(),
        linger_ms=5,
        max_batch_size=512 * 1024,
        max_request_size=MAX_MESSAGE_BYTES,
        acks="all",
        enable_idempotence=False,
    )
    await start_client(producer, connection)
    sent = 0
    started = time.monotonic()
    try:
        pending = []
        for line in lines:
            pending.append(await producer.send(topic, line, key=message_key(topic, line)))
            sent += 1
            if rate_per_s:
                ahead = sent / rate_per_s - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            if len(pending) >= 1000:
                await asyncio.gather(*pending)
                if on_sent:
                    on_sent(len(pending))
                pending.clear()
        await asyncio.gather(*pending)
        if on_sent:
            on_sent(len(pending))
    finally:
        await producer.stop()
    return sent
