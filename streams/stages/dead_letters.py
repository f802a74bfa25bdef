"""Dead letters: a refused record goes to `dlq` once, keyed by where it was read, in one wording."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from schemas.codec import encode
from schemas.rejection import DeadLetter, RejectReason
from streams.kafka.clients import KafkaEventPublisher
from streams.kafka.keys import dead_letter_key
from streams.kafka.topics import DLQ
from streams.stages.poison import internal_letter


def undecodable_letter(
    topic: str, partition: int, offset: int, raw: bytes | None, why: str, received_at: datetime
) -> DeadLetter:
    """A record that is not what its topic carries: `a <topic> record was refused: <why>`."""
    detail = f"a {topic} record was refused: {why}"
    reason = RejectReason.UNDECODABLE_RECORD
    return internal_letter(reason, detail, raw, topic, partition, offset, received_at)


def dead_letter_messages(letters: Sequence[DeadLetter]) -> list[tuple[bytes, bytes]]:
    """`dlq` messages: each letter keyed by the topic, partition and offset it names."""
    return [(dead_letter_key(d), encode(d)) for d in letters]


async def publish_dead_letters(publisher: KafkaEventPublisher, letters: Sequence[DeadLetter]) -> None:
    """The letters to `dlq`; the caller commits the records they stand for only after this returns."""
    if letters:
        await publisher.publish(DLQ, dead_letter_messages(letters))
