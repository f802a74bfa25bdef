"""The Faust side of detect and deliver: tables, agents, the tick timer, the alert sink and deliverer.

The detect agents publish their alerts to the `alerts` topic and hand them to
the deliverer, and publish every geofence transition to `transitions`; batch
consumers (aiokafka, like the ingest stage) sink both topics to ClickHouse.
Faust agents reading `alerts` back would cost about 100 µs per alert state
(scripts/bench_consume.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import faust
from faust.types import StreamT
from mode import CrashingSupervisor

from geo.catalogue import Catalogue
from geo.ports import load_ports
from schemas.alerts import Alert
from schemas.codec import encode
from schemas.rejection import DeadLetter, RejectReason
from schemas.transitions import Transition
from streams.delivery.deliver import Deliverer
from streams.delivery.subscriptions import Subscription
from streams.detect.batch import DetectBatch, decode_cells
from streams.detect.grouping import is_group
from streams.detect.transition_rules import NO_RULES, TransitionRules
from streams.detect.watchlist import WatchListFile
from streams.detection import (
    CellDetector,
    TrackDetector,
    is_cell_state,
    is_crossing_history,
    is_crossing_state,
    is_vessel_state,
)
from streams.kafka.clients import KafkaBatchConsumer, KafkaEventPublisher
from streams.kafka.topics import ALERTS, ALERTS_DLQ, DETECT_CELLS, DETECT_TRACKS, DLQ, TRANSITIONS
from streams.poison import dead_letter_key, error_text, internal_letter
from streams.settings import Settings
from streams.sinks.alerts import ClickHouseAlertSink
from streams.sinks.topic import TopicSink
from streams.sinks.transitions import ClickHouseTransitionSink
from streams.state.batched_table import BatchedTable
from streams.state.changelog_guard import guard_changelog
from streams.supervise import retry_faults, run_or_crash

log = logging.getLogger(__name__)
ALERT_SINK_WITHIN_S = 1.0


@dataclass
class DetectRuntime:
    """What the worker's /status reports of detection and delivery."""

    tracks: TrackDetector
    cells: CellDetector
    deliverer: Deliverer
    transition_sink: ClickHouseTransitionSink
    health: dict[str, str] = field(default_factory=dict)
    refused: int = 0  # internal records that did not decode or broke a detector
    transitions: int = 0  # published to `transitions`, replays included

    def status(self) -> dict[str, Any]:
        """Counts for /status."""
        stats = self.tracks.stats
        return {
            "detect": {
                "batches": stats.batches, "fixes": stats.fixes, "sightings": stats.sightings,
                "too_late": stats.too_late, "alerts": stats.alerts, "cpu_s": round(stats.cpu_s, 3),
                "watch_list_error": self.tracks.watch.error, "refused_records": self.refused,
            },
            "delivery": {"delivered": self.deliverer.stats.delivered, "failed": self.deliverer.stats.failed},
            "transitions": {"published": self.transitions, "stored": self.transition_sink.written,
                            "duplicates": self.transition_sink.duplicates},
        }  # fmt: skip


def add_detection(
    app: faust.App,
    settings: Settings,
    broker_url: str,
    catalogue: Catalogue,
    alert_sink: ClickHouseAlertSink,
    watch: WatchListFile,
    subscriptions: list[Subscription],
    transition_sink: ClickHouseTransitionSink,
    transition_rules: TransitionRules = NO_RULES,
) -> DetectRuntime:
    """Register the detect tables and agents, the alert and transition sinks and the deliverer on `app`."""
    ports = load_ports()
    n = settings.partitions
    tracks = TrackDetector(settings.detect, catalogue, ports, watch, n, transition_rules=transition_rules)
    cells = CellDetector(settings.detect, ports)
    publishers: list[KafkaEventPublisher] = []  # made in run_delivery: aiokafka needs the running loop
    ready = asyncio.Event()

    async def publish(topic: str, key: bytes, value: bytes) -> None:
        await publishers[0].publish(topic, [(key, value)])

    deliverer = Deliverer(subscriptions, publish, ALERTS_DLQ, settings.cap_sender)
    runtime = DetectRuntime(
        tracks, cells, deliverer, transition_sink,
        {"detect": "starting", "alerts_sink": "starting", "transitions_sink": "starting"},
    )  # fmt: skip

    async def dead_letter(letters: list[DeadLetter]) -> None:
        runtime.refused += len(letters)
        await publishers[0].publish(DLQ, [(dead_letter_key(d), encode(d)) for d in letters])

    async def refuse(stream: StreamT, raw: bytes | None, error: Exception) -> None:
        """A detect record that does not decode, or that a detector cannot take, goes to dlq."""
        message = stream.current_event.message  # type: ignore[union-attr]
        log.warning("refused %s[%d]@%d: %s", message.topic, message.partition, message.offset, error)
        letter = internal_letter(
            RejectReason.UNDECODABLE_RECORD, f"a {message.topic} record was refused: {error_text(error)}",
            raw, message.topic, message.partition, message.offset, datetime.now(UTC),
        )  # fmt: skip
        await dead_letter([letter])

    refused_changelog: list[DeadLetter] = []  # found during recovery; published at the next tick

    def table(name: str, accepts: Callable[[Any], bool]) -> Any:
        created = app.Table(name, partitions=n)  # str keys, JSON values
        guard_changelog(created, accepts, refused_changelog.append)
        return created

    vessels, crossings = table("vessels", is_vessel_state), table("crossings", is_crossing_state)
    histories = table("crossing_history", is_crossing_history)
    track_groups = table("track_alert_groups", is_group)
    cell_table, cell_groups = table("cells", is_cell_state), table("cell_alert_groups", is_group)
    tracks_topic = app.topic(DETECT_TRACKS, partitions=n, key_serializer="raw", value_serializer="raw")
    cells_topic = app.topic(DETECT_CELLS, partitions=n, key_serializer="raw", value_serializer="raw")

    async def finish(
        partition: int, views: list[BatchedTable], alerts: list[Alert], transitions: list[Transition]
    ) -> None:
        """Alerts and transitions to their topics, then the state to its changelogs, then delivery.

        In that order a crash anywhere replays the batch and raises the same alert
        states and transitions again (the same id and version, the same
        transition identity: one row in ClickHouse); only queued deliveries can
        be lost.
        """
        started = time.thread_time()
        messages = [(a.id.encode(), encode(a)) for a in alerts]
        moves = [(t.vessel_key.encode(), encode(t)) for t in transitions]
        tracks.stats.cpu_s += time.thread_time() - started
        await asyncio.gather(
            publishers[0].publish(ALERTS, messages), publishers[0].publish(TRANSITIONS, moves)
        )
        runtime.transitions += len(moves)
        await asyncio.gather(*(view.flush(partition, publishers[0]) for view in views))
        tracks.stats.cpu_s += sum(view.cpu_s for view in views)
        for alert in alerts:
            await deliverer.offer(alert)

    # A fault (the broker) in an agent stops the worker rather than leaving detection dead inside it.
    @app.agent(tracks_topic, name="detect_tracks", supervisor_strategy=CrashingSupervisor)
    async def detect_tracks(stream: StreamT) -> None:
        await ready.wait()
        async for value in stream:
            partition = stream.current_event.message.partition  # type: ignore[union-attr]
            views = [BatchedTable(t) for t in (vessels, crossings, histories, track_groups)]
            started = time.thread_time()
            try:
                result = tracks.on_batch(partition, DetectBatch.decode(value), time.time(), *views)
            except Exception as error:  # pure code on hostile input: nothing of it reached the tables
                await refuse(stream, value, error)
                continue
            finally:
                tracks.stats.cpu_s += time.thread_time() - started
            await finish(partition, views, result.alerts, result.transitions)

    @app.agent(cells_topic, name="detect_cells", supervisor_strategy=CrashingSupervisor)
    async def detect_cells(stream: StreamT) -> None:
        await ready.wait()
        async for value in stream:
            partition = stream.current_event.message.partition  # type: ignore[union-attr]
            views = [BatchedTable(cell_table), BatchedTable(cell_groups)]
            started = time.thread_time()
            try:
                alerts = cells.on_batch(partition, decode_cells(value), time.time(), *views)
            except Exception as error:
                await refuse(stream, value, error)
                continue
            finally:
                tracks.stats.cpu_s += time.thread_time() - started
            await finish(partition, views, alerts, [])

    @app.timer(settings.tick_s)
    async def tick() -> None:
        """An empty batch per partition: the clocks of live partitions move and silent vessels are found."""
        if refused_changelog and publishers:
            letters = list(refused_changelog)
            refused_changelog.clear()
            await dead_letter(letters)
        for partition in range(n):
            await tracks_topic.send(key=b"tick", value=DetectBatch().encode(), partition=partition)

    async def sink_topic(part: str, topic: str, model: Any, write: Callable[[Any], None]) -> None:
        """A topic to ClickHouse in batches of up to a second (each insert has a fixed cost).

        A record that is not a `model` is a dead letter; a fault is retried, then stops the worker.
        """
        await ready.wait()
        consumer = KafkaBatchConsumer(broker_url, f"{settings.worker_id}-{topic}", (topic,))
        await consumer.start()
        sink = TopicSink(
            consumer, model, write, dead_letter, settings.batch_size, ALERT_SINK_WITHIN_S,
            partial(retry_faults, runtime.health, part, settings.fault_limit_s),
        )  # fmt: skip
        try:
            await run_or_crash(app, runtime.health, part, sink.run)
        finally:
            await consumer.stop()

    @app.task
    async def sink_alerts() -> None:
        """`alerts` to ClickHouse."""
        await sink_topic("alerts_sink", ALERTS, Alert, alert_sink.write_alerts)

    @app.task
    async def sink_transitions() -> None:
        """`transitions` to ClickHouse."""
        await sink_topic("transitions_sink", TRANSITIONS, Transition, transition_sink.write_transitions)

    @app.task
    async def run_delivery() -> None:
        """Start the deliverer and its publisher; stop both when the worker stops (the task is cancelled)."""
        publisher = KafkaEventPublisher(broker_url)
        await publisher.start()
        publishers.append(publisher)
        ready.set()
        runtime.health["detect"] = "ok"
        await deliverer.start()
        try:
            await asyncio.Event().wait()
        finally:
            await deliverer.stop()
            await publisher.stop()

    return runtime
