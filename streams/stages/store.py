"""Store stage: accepted reports into ClickHouse exactly once, then on to `events.enriched` and detection.

This is where exactness lives. A report already in the events table is a
resend and goes no further, unless the stored row came from this very source
position: then a crash came between ClickHouse and the topics, and the report
is published again (detectors count each event id once). The stage runs in
the one process that writes ClickHouse's events: every worker of role `all`
(each checks the shared server), or the `sink` role, which reads
`events.validated` from the `process` workers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from geo.catalogue import Catalogue
from streams.detect.columns import split_for_detection
from streams.detect.thresholds import Thresholds
from streams.kafka.clients import KafkaEventPublisher
from streams.kafka.topics import DETECT_CELLS, DETECT_TRACKS, ENRICHED
from streams.sinks.clickhouse.events import ClickHouseIncidentSink
from streams.stages.enrich import Enriched


class Store:
    """ClickHouse first, then the output topics."""

    def __init__(
        self,
        sink: ClickHouseIncidentSink,
        catalogue: Catalogue,
        partitions: int,
        meeting: Thresholds,
        detectors: bool,
        share_notes: bool = False,
        on_stored: Callable[[Sequence[Enriched]], None] = lambda events: None,
    ) -> None:
        """`on_stored` is told of the reports each batch added to ClickHouse (the worker's metrics)."""
        self.sink = sink
        self.on_stored = on_stored
        self.share_notes = share_notes
        self.partitions = partitions
        self.meeting = meeting
        self.detectors = detectors
        self.crossing_kinds = {
            c: str(p["kind"]) for c, p in zip(catalogue.crossings.ids, catalogue.crossings.props)
        }
        self.split_cpu_s = 0.0  # CPU spent preparing the detect batches

    async def store_and_publish(self, publisher: KafkaEventPublisher, events: Sequence[Enriched]) -> int:
        """Store the new reports, publish them and crash replays; returns how many were resends."""
        fresh, replayed = await asyncio.to_thread(self.store_new, events)
        self.on_stored(fresh)
        started = time.thread_time()
        tracks, cells = (
            split_for_detection(
                fresh + replayed,
                self.crossing_kinds,
                self.partitions,
                self.meeting.encounter_distance_m,
            )
            if self.detectors
            else ([], [])
        )
        self.split_cpu_s += time.thread_time() - started
        enriched = [(e.key.encode(), e.to_wire(self.share_notes)) for e in fresh + replayed]
        await asyncio.gather(
            publisher.publish_batched(ENRICHED, enriched),
            publisher.publish_to_partitions(DETECT_TRACKS, [(p, b"batch", v) for p, v in tracks]),
            publisher.publish_to_partitions(DETECT_CELLS, [(p, b"batch", v) for p, v in cells]),
        )
        return len(events) - len(fresh) - len(replayed)

    def store_new(self, events: Sequence[Enriched]) -> tuple[list[Enriched], list[Enriched]]:
        """ClickHouse's part, in one thread hop (a second hop waits for a busy event loop between the
        look-up and the insert): the reports not stored yet are inserted; returns them, and the crash
        replays (stored from this very source position)."""
        stored = self.sink.stored_sources(events)
        fresh = [e for e in events if e.identity not in stored]
        replayed = [e for e in events if stored.get(e.identity) == e.source]
        self.sink.write_events(fresh)
        return fresh, replayed
