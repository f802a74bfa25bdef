"""The Faust app: the ingest stage (validate, enrich, sink, publish) and the worker's HTTP views."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import faust
from faust.types import StreamT
from faust.web import Request, Response, View

from geo.catalogue import Catalogue
from schemas.codec import encode
from schemas.rejection import DeadLetter
from streams.analytics import GroupBy, parse_duration_s, run_counts, run_readonly
from streams.clickhouse import ClickHouseIncidentSink
from streams.kafka_io import KafkaBatchConsumer, KafkaEventPublisher, Record
from streams.pipeline import RawMessage, first_copies, process_batch
from streams.settings import Settings
from streams.topics import DLQ, ENRICHED, INTERCEPTIONS, KIND_OF_TOPIC, VESSELS

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
    ) -> None:
        self.catalogue = catalogue
        self.sink = sink
        self.max_bytes = max_bytes
        self.processed = 0
        self.duplicates = 0

    async def handle(self, batch: Sequence[Record], publisher: KafkaEventPublisher) -> None:
        """Process one batch of input records; faults propagate and stop the worker."""
        messages = [
            RawMessage(
                topic=r.topic,
                partition=r.partition,
                offset=r.offset,
                value=r.value,
                kind=KIND_OF_TOPIC[r.topic],
                published_at=datetime.fromtimestamp(r.timestamp_ms / 1000, UTC),
            )
            for r in batch
        ]
        result = process_batch(messages, self.catalogue, datetime.now(UTC), self.max_bytes)
        events = first_copies(result.events)
        stored = await asyncio.to_thread(self.sink.stored_sources, events)
        fresh = [e for e in events if e.identity not in stored]
        replayed = [e for e in events if stored.get(e.identity) == e.source]
        await asyncio.to_thread(self.sink.write_events, fresh)
        await asyncio.gather(
            publisher.publish(ENRICHED, [(e.key.encode(), encode(e)) for e in fresh + replayed]),
            publisher.publish(DLQ, [(dead_letter_key(d), encode(d)) for d in result.dead_letters]),
        )
        self.processed += len(messages)
        self.duplicates += len(result.events) - len(fresh) - len(replayed)


def dead_letter_key(dead_letter: DeadLetter) -> bytes:
    """Where the refused message was: its topic, partition and offset."""
    d = dead_letter
    return f"{d.source_topic}:{d.source_partition}:{d.source_offset}".encode()


def create_app(
    settings: Settings, broker_url: str, catalogue: Catalogue, sink: ClickHouseIncidentSink
) -> faust.App:
    """The worker's Faust app, wired to a checked catalogue and a migrated sink."""
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
    )
    stage = IngestStage(catalogue, sink, settings.max_message_bytes)

    @app.task
    async def ingest() -> None:
        # Its own group: Faust's group uses Faust's partition assignor.
        group = f"{settings.worker_id}-ingest"
        consumer = KafkaBatchConsumer(broker_url, group, (INTERCEPTIONS, VESSELS))
        publisher = KafkaEventPublisher(broker_url)
        await publisher.start()
        await consumer.start()
        try:
            while True:
                batch = await consumer.next_batch(settings.batch_size, settings.batch_within_s)
                if not batch:
                    continue
                try:
                    await stage.handle(batch, publisher)
                except Exception:
                    first, last = batch[0], batch[-1]
                    log.exception(
                        "batch failed, stopping: %s[%d]@%d .. %s[%d]@%d",
                        first.topic, first.partition, first.offset,
                        last.topic, last.partition, last.offset,
                    )  # fmt: skip
                    raise
                await consumer.commit(batch)
        finally:
            await consumer.stop()
            await publisher.stop()

    dead_letters = app.topic(DLQ, value_serializer="raw", key_serializer="raw")

    @app.agent(dead_letters, name="rejects")
    async def sink_rejects(stream: StreamT) -> None:
        """dlq to the rejects table; low volume, so Faust's per-event stream is fine here."""
        batches = stream.take(settings.batch_size, within=settings.batch_within_s)
        async for batch in batches:
            letters = [DeadLetter.model_validate_json(value) for value in batch]
            await asyncio.to_thread(sink.write_rejects, letters)

    _add_views(app, sink, settings.database, stage)
    return app


def _add_views(app: faust.App, sink: ClickHouseIncidentSink, db: str, stage: IngestStage) -> None:
    """HTTP endpoints: with chdb the worker is the only process that may read ClickHouse."""

    @app.page("/counts")
    async def counts(web: View, request: Request) -> Response:
        query = request.query
        try:
            by = GroupBy(query.get("by", GroupBy.CROSSING.value))
            since_s = parse_duration_s(query["since"]) if query.get("since") else None
        except ValueError as error:
            return web.json({"error": str(error)}, status=400)
        rows = await asyncio.to_thread(run_counts, sink.client, db, by, since_s, query.get("route") or None)
        return web.json(rows)

    @app.page("/status")
    async def status(web: View, request: Request) -> Response:
        totals = await asyncio.to_thread(sink.totals)
        return web.json({**totals, "processed": stage.processed, "duplicates": stage.duplicates})

    @app.page("/sql")
    class Sql(View):
        async def post(self, request: Request) -> Response:
            sql = (await request.read()).decode("utf-8", errors="replace")
            try:
                return self.json(await asyncio.to_thread(run_readonly, sink.client, sql))
            except Exception as error:  # ClickHouse's own message is the useful answer
                return self.json({"error": str(error)}, status=400)
