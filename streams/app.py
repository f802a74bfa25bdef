"""The Faust app: the ingest stage (validate, enrich, sink, publish) and the worker's HTTP views."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import faust
from aiokafka.structs import ConsumerRecord
from faust.types import StreamT

from geo.catalogue import Catalogue
from schemas.codec import encode
from schemas.limits import ReportLimits
from schemas.rejection import DeadLetter, RejectReason
from streams.analyst.session import AnalystSession
from streams.delivery.subscriptions import Subscription
from streams.detect.batch import split_for_detection
from streams.detect.thresholds import Thresholds
from streams.detect.transition_rules import NO_RULES, TransitionRules
from streams.detect.watchlist import WatchListFile
from streams.detect_agents import add_detection
from streams.kafka.clients import KafkaBatchConsumer, KafkaEventPublisher
from streams.kafka.topics import (
    DETECT_CELLS,
    DETECT_TRACKS,
    DLQ,
    ENRICHED,
    INTERCEPTIONS,
    KIND_OF_TOPIC,
    VESSELS,
)
from streams.pipeline import Enriched, RawMessage, first_copies, process_batch
from streams.poison import dead_letter_key, internal_letter, isolate_poison
from streams.settings import Settings
from streams.sinks.alerts import ClickHouseAlertSink
from streams.sinks.clickhouse import ClickHouseIncidentSink
from streams.sinks.topic import TopicSink
from streams.sinks.transitions import ClickHouseTransitionSink
from streams.supervise import retry_faults, run_or_crash
from streams.web.auth import auth_middleware
from streams.web.views import add_views

log = logging.getLogger(__name__)


class IngestStage:
    """One batch through validate, enrich, ClickHouse and the output topics.

    Order matters for exactness: ClickHouse first, then the topics, then the
    offsets are committed. Dead letters reach the rejects table through the
    `dlq` topic (see the `rejects` agent). A crash anywhere replays the batch; the events
    table then recognises each report and only republishes what this very
    offset produced before.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        sink: ClickHouseIncidentSink,
        max_bytes: int,
        partitions: int,
        meeting: Thresholds,
        detectors: bool = True,
        limits: ReportLimits | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.sink = sink
        self.max_bytes = max_bytes
        self.partitions = partitions
        self.meeting = meeting
        self.split_cpu_s = 0.0  # CPU spent preparing the detect batches
        self.detectors = detectors
        self.limits = limits or ReportLimits()
        self.crossing_kinds = {
            c: str(p["kind"]) for c, p in zip(catalogue.crossings.ids, catalogue.crossings.props)
        }
        self.processed = 0
        self.duplicates = 0

    def prepare(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> PreparedBatch:
        """Validate and enrich (CPU only); runs while the previous batch is being sunk."""
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
        result = process_batch(messages, self.catalogue, datetime.now(UTC), self.max_bytes, self.limits)
        events = first_copies(result.events)
        in_batch_copies = len(result.events) - len(events)
        return PreparedBatch(records, events, result.dead_letters, in_batch_copies)

    async def sink_batch(self, batch: PreparedBatch, publisher: KafkaEventPublisher) -> None:
        """Store and publish a batch; a report that fails on its own goes to `dlq` as internal_error."""

        async def attempt(events: Sequence[Enriched]) -> None:
            self.duplicates += await self.store_and_publish(events, publisher)

        poison = await isolate_poison(batch.events, attempt)
        now = datetime.now(UTC)
        letters = batch.dead_letters + [
            internal_letter(RejectReason.INTERNAL_ERROR, text, e.raw, *e.source, now) for e, text in poison
        ]
        await publisher.publish(DLQ, [(dead_letter_key(d), encode(d)) for d in letters])
        self.processed += len(batch.records)
        self.duplicates += batch.in_batch_copies

    async def store_and_publish(self, events: Sequence[Enriched], publisher: KafkaEventPublisher) -> int:
        """ClickHouse, then the output topics; returns how many were resends. Faults propagate."""
        stored = await asyncio.to_thread(self.sink.stored_sources, events)
        fresh = [e for e in events if e.identity not in stored]
        replayed = [e for e in events if stored.get(e.identity) == e.source]
        await asyncio.to_thread(self.sink.write_events, fresh)
        started = time.thread_time()
        tracks, cells = (
            split_for_detection(
                fresh + replayed,
                self.crossing_kinds,
                self.partitions,
                self.meeting.encounter_distance_m,
                self.meeting.encounter_max_kn,
            )
            if self.detectors
            else ([], [])
        )
        self.split_cpu_s += time.thread_time() - started
        await asyncio.gather(
            publisher.publish_batched(ENRICHED, [(e.key.encode(), e.to_wire()) for e in fresh + replayed]),
            publisher.publish_to_partitions(DETECT_TRACKS, [(p, b"batch", v) for p, v in tracks]),
            publisher.publish_to_partitions(DETECT_CELLS, [(p, b"batch", v) for p, v in cells]),
        )
        return len(events) - len(fresh) - len(replayed)


@dataclass(frozen=True)
class PreparedBatch:
    """A validated, enriched batch waiting for the sink."""

    records: Sequence[ConsumerRecord[bytes, bytes]]
    events: list[Enriched]
    dead_letters: list[DeadLetter]
    in_batch_copies: int


async def run_ingest(
    stage: IngestStage,
    consumer: KafkaBatchConsumer,
    publisher: KafkaEventPublisher,
    batch_size: int,
    within_s: float,
    retry: Callable[[Callable[[], Awaitable[None]]], Awaitable[None]],
) -> None:
    """Read and prepare batch N+1 while batch N is sunk; commit each batch after its sink.

    Two stages joined by a one-slot queue: the event loop validates the next
    batch while ClickHouse (in a thread) inserts the current one.
    """
    ready: asyncio.Queue[PreparedBatch] = asyncio.Queue(maxsize=1)

    async def read_and_prepare() -> None:
        while True:
            records = await consumer.next_batch(batch_size, within_s)
            if records:
                await ready.put(stage.prepare(records))

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
                await retry(partial(stage.sink_batch, batch, publisher))
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


def create_app(
    settings: Settings,
    broker_url: str,
    catalogue: Catalogue,
    sink: ClickHouseIncidentSink,
    watch: WatchListFile,
    subscriptions: list[Subscription],
    analyst: AnalystSession,
    token: str,
    transition_rules: TransitionRules = NO_RULES,
) -> faust.App:
    """The worker's Faust app, wired to a checked catalogue, a migrated sink and a caged analyst session."""
    app = faust.App(
        settings.worker_id,
        broker=broker_url,
        value_serializer="raw",
        key_serializer="raw",
        datadir=str(settings.data_dir / "faust"),
        store="memory://",
        topic_partitions=settings.partitions,
        topic_disable_leader=True,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=4.0,
        web_enabled=True,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        web_port=settings.web_port,
        # Only borderwatch's own endpoints, each behind the token (Faust's /table would show its state).
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_application_options={
            "middlewares": [auth_middleware(token, settings.web_port)],
            "client_max_size": settings.analyst.max_sql_bytes * 2 + 1024,
        },
    )
    stage = IngestStage(
        catalogue,
        sink,
        settings.max_message_bytes,
        settings.partitions,
        settings.detect,
        settings.detectors,
        settings.limits,
    )
    health: dict[str, str] = {"ingest": "starting", "rejects": "starting"}

    @app.task
    async def ingest() -> None:
        # Its own group: Faust's group uses Faust's partition assignor.
        group = f"{settings.worker_id}-ingest"
        consumer = KafkaBatchConsumer(broker_url, group, (INTERCEPTIONS, VESSELS))
        publisher = KafkaEventPublisher(broker_url)
        await publisher.start()
        await consumer.start()
        try:
            await run_or_crash(app, health, "ingest", lambda: run_ingest(
                stage, consumer, publisher, settings.batch_size, settings.batch_within_s,
                partial(retry_faults, health, "ingest", settings.fault_limit_s),
            ))  # fmt: skip
        finally:
            await consumer.stop()
            await publisher.stop()

    @app.task
    async def sink_rejects() -> None:
        """dlq to the rejects table; a record that is not a dead letter is stored as one of its own."""

        async def store_directly(letters: list[DeadLetter]) -> None:
            # Published back to dlq they would only come round again: store them here.
            await asyncio.to_thread(sink.write_rejects, letters)

        consumer = KafkaBatchConsumer(broker_url, f"{settings.worker_id}-rejects", (DLQ,))
        await consumer.start()
        rejects = TopicSink(
            consumer, DeadLetter, sink.write_rejects, store_directly,
            settings.batch_size, settings.batch_within_s,
            partial(retry_faults, health, "rejects", settings.fault_limit_s),
        )  # fmt: skip
        try:
            await run_or_crash(app, health, "rejects", rejects.run)
        finally:
            await consumer.stop()

    alert_sink = ClickHouseAlertSink(sink.client, settings.database)
    transition_sink = ClickHouseTransitionSink(sink.client, settings.database)
    parts = (alert_sink, watch, subscriptions, transition_sink, transition_rules)
    runtime = add_detection(app, settings, broker_url, catalogue, *parts) if settings.detectors else None
    if runtime is None:
        # Faust's conductor subscribes to its agents' topics and crashes on none at all
        # (aiokafka: "You should provide either `topics` or `pattern`"); nothing publishes here
        # when detection is off, so this agent only keeps the conductor whole.
        @app.agent(app.topic(DETECT_TRACKS, value_serializer="raw"), name="detection_off")
        async def detection_off(stream: StreamT) -> None:
            async for _ in stream:
                pass

    def status() -> dict[str, object]:
        totals = sink.totals()
        counts = {"processed": stage.processed, "duplicates": stage.duplicates}
        detection = runtime.status() if runtime else {}
        if detection:
            detection["detect"]["cpu_s"] += round(stage.split_cpu_s, 3)
        return {**totals, **counts, **detection}

    def health_now() -> dict[str, str]:
        return {**health, **(runtime.health if runtime else {})}

    add_views(app, analyst, status, health_now)
    return app
