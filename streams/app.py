"""The Faust app: the ingest agent (validate, enrich, sink, publish) and the worker's HTTP views."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import EventT, StreamT
from faust.web import Request, Response, View

from geo.catalogue import Catalogue
from schemas.codec import encode
from schemas.events import EnrichedEvent
from streams.analytics import GroupBy, parse_duration_s, run_counts, run_readonly
from streams.clickhouse import ClickHouseIncidentSink
from streams.pipeline import RawMessage, first_copies, process_batch
from streams.settings import Settings
from streams.topics import (
    DLQ,
    ENRICHED,
    INTERCEPTIONS,
    KIND_OF_TOPIC,
    MAX_MESSAGE_BYTES,
    VESSELS,
)

log = logging.getLogger(__name__)


class IngestStage:
    """One batch through validate, enrich, ClickHouse and the output topics.

    Order matters for exactness: ClickHouse first, then the topics, then the
    offsets are committed (Faust acks the batch after this returns). A crash
    anywhere replays the batch; the events table then recognises each report
    and only republishes what this very offset produced before.
    """

    def __init__(self, app: faust.App, catalogue: Catalogue, sink: ClickHouseIncidentSink,
                 max_bytes: int) -> None:  # fmt: skip
        self.app = app
        self.catalogue = catalogue
        self.sink = sink
        self.max_bytes = max_bytes
        self.processed = 0
        self.duplicates = 0

    async def handle(self, batch: Sequence[EventT]) -> None:
        """Process one batch of input events; faults propagate and stop the worker."""
        messages = [
            RawMessage(
                topic=e.message.topic,
                partition=e.message.partition,
                offset=e.message.offset,
                value=e.message.value,
                kind=KIND_OF_TOPIC[e.message.topic],
            )
            for e in batch
        ]
        result = process_batch(messages, self.catalogue, datetime.now(UTC), self.max_bytes)
        events = first_copies(result.events)
        stored = await asyncio.to_thread(self.sink.stored_sources, events)
        fresh = [e for e in events if e.identity not in stored]
        replayed = [e for e in events if stored.get(e.identity) == e.source]
        await asyncio.to_thread(self.sink.write_events, fresh)
        await asyncio.to_thread(self.sink.write_rejects, result.dead_letters)
        await self._publish(fresh + replayed, result)
        self.processed += len(messages)
        self.duplicates += len(result.events) - len(fresh) - len(replayed)

    async def _publish(self, events: list[EnrichedEvent], result: Any) -> None:
        producer = self.app.producer
        futures = [await producer.send(ENRICHED, e.key.encode(), encode(e), None, None, None) for e in events]
        futures += [
            await producer.send(
                DLQ,
                f"{d.source_topic}:{d.source_partition}:{d.source_offset}".encode(),
                encode(d),
                None,
                None,
                None,
            )
            for d in result.dead_letters
        ]
        await asyncio.gather(*futures)


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
        broker_commit_interval=1.0,
        stream_buffer_maxsize=max(4096, 2 * settings.batch_size),
        producer_max_request_size=MAX_MESSAGE_BYTES,
        consumer_max_fetch_size=MAX_MESSAGE_BYTES,
        web_enabled=True,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        web_port=settings.web_port,
    )
    reports = app.topic(INTERCEPTIONS, VESSELS, value_serializer="raw", key_serializer="raw")
    stage = IngestStage(app, catalogue, sink, settings.max_message_bytes)
    app.ingest_stage = stage  # type: ignore[attr-defined]

    @app.agent(reports, name="ingest")
    async def ingest(stream: StreamT) -> None:
        batches = stream.take_events(settings.batch_size, within=settings.batch_within_s)  # type: ignore[attr-defined]
        async for batch in batches:
            try:
                await stage.handle(batch)
            except Exception:
                first, last = batch[0].message, batch[-1].message
                log.exception(
                    "batch failed: %s[%d]@%d .. %s[%d]@%d", first.topic, first.partition,
                    first.offset, last.topic, last.partition, last.offset,
                )  # fmt: skip
                raise

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
