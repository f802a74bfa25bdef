"""The Faust side of detect: tables, agents and the tick timer.

The detect agents publish their alerts to the `alerts` topic and every
geofence transition to `transitions`; batch consumers sink both topics to
ClickHouse (streams/worker/parts.py, TopicTableSink), and each centre's deliverer reads
`alerts` in a group of its own (streams/delivery/deliver.py). Faust agents
reading `alerts` back would cost about 100 µs per alert state
(scripts/bench_consume.py).

The detectors' pure code runs on one thread of its own, never on the event
loop: a batch of a few thousand reports takes up to a few hundred ms of CPU,
and on the loop the ingest stage's next batch (and every report's way to
ClickHouse) waited behind it (issue 24). With the work on a thread, the
interpreter hands the loop its turn every few ms. The agent still awaits each
batch before it takes the next, so batches run one at a time in the same
order, with the same inputs, and give the same alerts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from faust.types import StreamT
from mode import CrashingSupervisor

from geo.catalogue import Catalogue
from geo.ports import load_ports
from schemas.alerts import Alert
from schemas.codec import encode
from schemas.rejection import DeadLetter
from schemas.transitions import Transition
from streams.detect.clock import sent_wall_time
from streams.detect.columns import EMPTY_CELLS, DetectBatch, decode_cells
from streams.detect.grouping import is_group
from streams.detect.meeting_news import decode_news, news_for_partitions
from streams.detect.runtime import (
    CellDetector,
    CellsResult,
    MeetingGrouper,
    TrackDetector,
    TrackResult,
    is_cell_clocks,
    is_cell_state,
    is_crossing_history,
    is_crossing_state,
    is_meeting_hold,
    is_track_clocks,
    is_vessel_state,
)
from streams.detect.transition_rules import NO_RULES, TransitionRules
from streams.detect.watchlist import WatchListFile
from streams.kafka.topics import ALERTS, DETECT_CELLS, DETECT_MEETINGS, DETECT_TRACKS, TRANSITIONS
from streams.stages.dead_letters import undecodable_letter
from streams.stages.poison import error_text
from streams.state.batched_table import BatchedTable
from streams.state.changelog_guard import guard_changelog
from streams.worker.parts import PartContext

log = logging.getLogger(__name__)
T = TypeVar("T")


TRACK_TABLES = ("vessels", "crossings", "crossing_history", "track_alert_groups", "track_clocks")
# `cell_alert_groups` holds the encounter groups of the release before, whose cells agents grouped
# them: each cells partition hands its own over to the meetings partitions (runtime._hand_over).
CELL_TABLES = ("cells", "cell_clocks", "cell_alert_groups")
# Written in this order: what a meetings partition took (its hold) only once the groups it changed are
# in their changelog, so a crash between the two takes the news again rather than losing it.
MEETING_TABLES = ("meeting_groups", "meeting_holds")
ACCEPTS: dict[str, Callable[[Any], bool]] = {
    "vessels": is_vessel_state, "crossings": is_crossing_state, "crossing_history": is_crossing_history,
    "track_alert_groups": is_group, "track_clocks": is_track_clocks,
    "cells": is_cell_state, "cell_clocks": is_cell_clocks,
    "cell_alert_groups": is_group, "meeting_holds": is_meeting_hold, "meeting_groups": is_group,
}  # fmt: skip


class Detection:
    """Detect tables, agents and tick of one worker, publishing through its shared publisher."""

    part = "detect"

    def __init__(
        self,
        context: PartContext,
        catalogue: Catalogue,
        watch: WatchListFile,
        rules: TransitionRules = NO_RULES,
    ) -> None:
        self.context = context
        settings, app = context.settings, context.app
        self.partitions = n = settings.partitions
        ports = load_ports()
        self.tracks = TrackDetector(settings.detect, catalogue, ports, watch, n, transition_rules=rules)
        self.cells = CellDetector(settings.detect, ports, n)
        self.meetings = MeetingGrouper(settings.detect, n)
        self.refused = 0  # internal records that did not decode or broke a detector
        self.transitions = 0  # published to `transitions`, replays included
        self.refused_changelog: list[DeadLetter] = []  # found during recovery; published at the next tick
        # One thread for both agents: their batches never run at the same time, as on the loop.
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="detect")
        self.tables = {name: self._table(name) for name in TRACK_TABLES + CELL_TABLES + MEETING_TABLES}
        self.tracks_topic = self._raw_topic(DETECT_TRACKS)
        self.cells_topic = self._raw_topic(DETECT_CELLS)
        self.meetings_topic = self._raw_topic(DETECT_MEETINGS)
        # A fault (the broker) in an agent stops the worker rather than leaving detection dead inside it.
        app.agent(self.tracks_topic, name="detect_tracks", supervisor_strategy=CrashingSupervisor)(
            self.detect_tracks
        )
        app.agent(self.cells_topic, name="detect_cells", supervisor_strategy=CrashingSupervisor)(
            self.detect_cells
        )
        app.agent(self.meetings_topic, name="detect_meetings", supervisor_strategy=CrashingSupervisor)(
            self.detect_meetings
        )
        app.timer(settings.tick_s)(self.tick)
        context.add(self.part, self.mark_ready)

    def _raw_topic(self, name: str) -> Any:
        app, n = self.context.app, self.partitions
        return app.topic(name, partitions=n, key_serializer="raw", value_serializer="raw")

    def _table(self, name: str) -> Any:
        created = self.context.app.Table(name, partitions=self.partitions)  # str keys, JSON values
        guard_changelog(created, ACCEPTS[name], self.refused_changelog.append)
        return created

    async def mark_ready(self) -> None:
        """Detection is ok once the worker can publish what it finds."""
        await self.context.publisher.ready()
        self.context.health.ok(self.part)

    async def detect_tracks(self, stream: StreamT) -> None:
        await self.context.publisher.ready()
        async for value in stream:
            message = stream.current_event.message  # type: ignore[union-attr]
            partition = message.partition
            views = [BatchedTable(self.tables[name]) for name in TRACK_TABLES]
            # As a cells message (detect_cells): a worker behind its input does not age its vessels
            # by how far behind it is, and a replay is judged as the first run was.
            wall_now = sent_wall_time(message.timestamp, time.time())
            try:
                result = await self._off_loop(self._track_batch, partition, value, wall_now, views)
            except Exception as error:  # pure code on hostile input: nothing of it reached the tables
                await self._refuse(stream, value, error)
                continue
            await self._finish(partition, views, result.alerts, result.transitions)

    async def detect_cells(self, stream: StreamT) -> None:
        await self.context.publisher.ready()
        async for value in stream:
            message = stream.current_event.message  # type: ignore[union-attr]
            views = [BatchedTable(self.tables[name]) for name in CELL_TABLES]
            # Judged at the time it was sent: a replay after a crash finds what the first run found, and
            # so sends the news that the meetings partitions took already (meeting_news.py).
            sent_ts = sent_wall_time(message.timestamp, time.time())
            try:
                result = await self._off_loop(self._cell_batch, message.partition, value, sent_ts, views)
            except Exception as error:
                await self._refuse(stream, value, error)
                continue
            news = news_for_partitions(
                message.partition, message.offset, sent_ts, result.mark_ts, result.found, self.partitions,
                result.adopted,
            )  # fmt: skip
            publisher = await self.context.publisher.ready()
            await publisher.publish_to_partitions(DETECT_MEETINGS, [(p, b"news", v) for p, v in news])
            await self._flush(message.partition, views)

    async def detect_meetings(self, stream: StreamT) -> None:
        await self.context.publisher.ready()
        async for value in stream:
            partition = stream.current_event.message.partition  # type: ignore[union-attr]
            views = [BatchedTable(self.tables[name]) for name in MEETING_TABLES]
            try:
                alerts = await self._off_loop(self._meeting_news, partition, value, views)
            except Exception as error:
                await self._refuse(stream, value, error)
                continue
            await self._finish(partition, views, alerts, [], in_order=True)

    def _track_batch(
        self, partition: int, value: bytes, wall_now: float, views: list[BatchedTable]
    ) -> TrackResult:
        vessels, crossings, histories, groups, clocks = views
        return self.tracks.on_batch(
            partition, DetectBatch.decode(value), wall_now, vessels, crossings, histories, groups, clocks,
            published_at=datetime.now(UTC),  # `wall_now` is when it was sent: long ago for a worker behind
        )  # fmt: skip

    def _cell_batch(
        self, partition: int, value: bytes, wall_now: float, views: list[BatchedTable]
    ) -> CellsResult:
        return self.cells.on_batch(partition, decode_cells(value), wall_now, *views)

    def _meeting_news(self, partition: int, value: bytes, views: list[BatchedTable]) -> list[Alert]:
        groups, holds = views
        return self.meetings.on_news(partition, decode_news(value, self.partitions), holds, groups)

    async def _off_loop(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` (pure detection code) on the detect thread, its CPU time counted in the stats."""
        spent = 0.0

        def timed() -> T:
            nonlocal spent
            started = time.thread_time()
            try:
                return work(*args)
            finally:
                spent = time.thread_time() - started

        try:
            return await asyncio.get_running_loop().run_in_executor(self.thread, timed)
        finally:
            self.tracks.stats.cpu_s += spent

    async def tick(self) -> None:
        """An empty batch per partition of each detect topic: the clocks of live partitions move, silent
        vessels are found, and meetings no fix comes back to are settled."""
        if self.refused_changelog and self.context.publisher.started:
            letters = list(self.refused_changelog)
            self.refused_changelog.clear()
            await self._dead_letter(letters)
        for partition in range(self.partitions):
            await self.tracks_topic.send(key=b"tick", value=DetectBatch().encode(), partition=partition)
            await self.cells_topic.send(key=b"tick", value=EMPTY_CELLS, partition=partition)

    async def _finish(
        self,
        partition: int,
        views: list[BatchedTable],
        alerts: list[Alert],
        transitions: list[Transition],
        in_order: bool = False,
    ) -> None:
        """Alerts and transitions to their topics, then the state to its changelogs.

        In that order a crash anywhere replays the batch and raises the same alert
        states and transitions again (the same id and version, the same
        transition identity: one row in ClickHouse, one idempotency key).
        """
        started = time.thread_time()
        messages = [(a.id.encode(), encode(a)) for a in alerts]
        moves = [(t.vessel_key.encode(), encode(t)) for t in transitions]
        self.tracks.stats.cpu_s += time.thread_time() - started
        publisher = await self.context.publisher.ready()
        await asyncio.gather(publisher.publish(ALERTS, messages), publisher.publish(TRANSITIONS, moves))
        self.context.metrics.alerts_published(alerts)
        self.transitions += len(moves)
        await self._flush(partition, views, in_order)

    async def _flush(self, partition: int, views: list[BatchedTable], in_order: bool = False) -> None:
        """The batch's state to its changelogs, once what it publishes is acknowledged (with `in_order`,
        each table's once the one before it is)."""
        publisher = await self.context.publisher.ready()
        if in_order:
            for view in views:
                await view.flush(partition, publisher)
        else:
            await asyncio.gather(*(view.flush(partition, publisher) for view in views))
        self.tracks.stats.cpu_s += sum(view.cpu_s for view in views)

    async def _refuse(self, stream: StreamT, raw: bytes | None, error: Exception) -> None:
        """A detect record that does not decode, or that a detector cannot take, goes to dlq."""
        message = stream.current_event.message  # type: ignore[union-attr]
        log.warning("refused %s[%d]@%d: %s", message.topic, message.partition, message.offset, error)
        letter = undecodable_letter(
            message.topic, message.partition, message.offset, raw, error_text(error), datetime.now(UTC)
        )
        await self._dead_letter([letter])

    async def _dead_letter(self, letters: list[DeadLetter]) -> None:
        self.refused += len(letters)
        await self.context.publisher.dead_letter(letters)

    def status(self) -> dict[str, Any]:
        """Counts for /status."""
        stats = self.tracks.stats
        return {
            "detect": {
                "batches": stats.batches, "fixes": stats.fixes, "sightings": stats.sightings,
                "too_late": stats.too_late, "alerts": stats.alerts, "cpu_s": round(stats.cpu_s, 3),
                "watch_list_error": self.tracks.watch.error, "refused_records": self.refused,
                "transitions_published": self.transitions,
                "meeting_findings_held": sum(self.meetings.held.values()),
            },
        }  # fmt: skip
