"""Ingest stage: input records validated and enriched, and, on a worker without ClickHouse, handed on.

`all` forwards straight to the store stage in the same process; a `process`
worker publishes its accepted reports to `events.validated`, where the sink
role stores them (see stages/store.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from geo.catalogue import Catalogue
from schemas.limits import ReportLimits
from streams.kafka.clients import KafkaEventPublisher
from streams.kafka.topics import KIND_OF_TOPIC, VALIDATED
from streams.stages.enrich import Enriched, RawMessage, first_copies, process_batch
from streams.stages.handoff import encode_validated
from streams.stages.runner import PreparedBatch, Records


class Ingest:
    """Validate and enrich (CPU only); runs while the previous batch is being forwarded."""

    def __init__(self, catalogue: Catalogue, max_bytes: int, limits: ReportLimits) -> None:
        self.catalogue = catalogue
        self.max_bytes = max_bytes
        self.limits = limits

    def prepare(self, records: Records, now: datetime | None = None) -> PreparedBatch:
        """A batch of input records as accepted events and dead letters, received `now` (the clock's)."""
        messages = [
            RawMessage(
                topic=r.topic,
                partition=r.partition,
                offset=r.offset,
                value=r.value,
                kind=KIND_OF_TOPIC[r.topic],
                published_at=datetime.fromtimestamp(r.timestamp / 1000, UTC),
            )
            for r in records
        ]
        received = now or datetime.now(UTC)
        result = process_batch(messages, self.catalogue, received, self.max_bytes, self.limits)
        events = first_copies(result.events)
        return PreparedBatch(records, events, result.dead_letters, len(result.events) - len(events))


async def hand_on(publisher: KafkaEventPublisher, events: Sequence[Enriched]) -> int:
    """To `events.validated`, keyed like `events.enriched`; resends are for the sink to find."""
    await publisher.publish_batched(VALIDATED, [(e.key.encode(), encode_validated(e)) for e in events])
    return 0
