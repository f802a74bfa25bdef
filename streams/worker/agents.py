"""The Faust side of detect: tables, agents and the tick timer.

The detect agents publish their alerts to the `alerts` topic and every
geofence transition to `transitions`; batch consumers sink both topics to
ClickHouse (streams/sinks/tasks.py), and each centre's deliverer reads
`alerts` in a group of its own (streams/delivery/deliver.py). Faust agents
reading `alerts` back would cost about 100 µs per alert state
(scripts/bench_consume.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from streams.config.settings import Settings
from streams.detect.columns import DetectBatch, decode_cells
from streams.detect.grouping import is_group
from streams.detect.runtime import (
    CellDetector,
    TrackDetector,
    is_cell_clocks,
    is_cell_state,
    is_crossing_history,
    is_crossing_state,
    is_track_clocks,
    is_vessel_state,
)
from streams.detect.transition_rules import NO_RULES, TransitionRules
from streams.detect.watchlist import WatchListFile
from streams.kafka.clients import KafkaEventPublisher
from streams.kafka.security import KafkaConnection
from streams.kafka.topics import ALERTS, DETECT_CELLS, DETECT_TRACKS, DLQ, TRANSITIONS
from streams.stages.poison import dead_letter_key, error_text, internal_letter
from streams.state.batched_table import BatchedTable
from streams.state.changelog_guard import guard_changelog

log = logging.getLogger(__name__)


@dataclass
class DetectRuntime:
    """What the worker's /status reports of detection."""

    tracks: TrackDetector
    cells: CellDetector
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
                "transitions_published": self.transitions,
            },
        }  # fmt: skip


def add_detection(
    app: faust.App,
    settings: Settings,
    kafka: KafkaConnection,
    catalogue: Catalogue,
    watch: WatchListFile,
    transition_rules: TransitionRules = NO_RULES,
) -> DetectRuntime:
    """Register the detect tables, agents and tick on `app`."""
    ports = load_ports()
    n = settings.partitions
    tracks = TrackDetector(settings.detect, catalogue, ports, watch, n, transition_rules=transition_rules)
    cells = CellDetector(settings.detect, ports)
    publishers: list[KafkaEventPublisher] = []  # made in run_publisher: aiokafka needs the running loop
    ready = asyncio.Event()
    runtime = DetectRuntime(tracks, cells, {"detect": "starting"})

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
    track_clocks, cell_clocks = table("track_clocks", is_track_clocks), table("cell_clocks", is_cell_clocks)
    tracks_topic = app.topic(DETECT_TRACKS, partitions=n, key_serializer="raw", value_serializer="raw")
    cells_topic = app.topic(DETECT_CELLS, partitions=n, key_serializer="raw", value_serializer="raw")

    async def finish(
        partition: int, views: list[BatchedTable], alerts: list[Alert], transitions: list[Transition]
    ) -> None:
        """Alerts and transitions to their topics, then the state to its changelogs.

        In that order a crash anywhere replays the batch and raises the same alert
        states and transitions again (the same id and version, the same
        transition identity: one row in ClickHouse, one idempotency key).
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

    # A fault (the broker) in an agent stops the worker rather than leaving detection dead inside it.
    @app.agent(tracks_topic, name="detect_tracks", supervisor_strategy=CrashingSupervisor)
    async def detect_tracks(stream: StreamT) -> None:
        await ready.wait()
        async for value in stream:
            partition = stream.current_event.message.partition  # type: ignore[union-attr]
            views = [BatchedTable(t) for t in (vessels, crossings, histories, track_groups, track_clocks)]
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
            views = [BatchedTable(t) for t in (cell_table, cell_groups, cell_clocks)]
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

    @app.task
    async def run_publisher() -> None:
        """The agents' publisher, open while the worker runs (the task is cancelled at stop)."""
        publisher = KafkaEventPublisher(kafka)
        await publisher.start()
        publishers.append(publisher)
        ready.set()
        runtime.health["detect"] = "ok"
        try:
            await asyncio.Event().wait()
        finally:
            await publisher.stop()

    return runtime
