"""The Faust app of one worker process, assembled from the parts its role runs (docs/operations, "Roles").

| part                                   | all | process | sink |
|----------------------------------------|-----|---------|------|
| ingest: input topics, validate, enrich | yes | yes     |      |
| store: events table, then the topics   | yes |         | yes (from `events.validated`) |
| detect agents and tick                 | yes | yes     |      |
| delivery to centres                    | yes | yes     |      |
| rejects, alerts, transitions tables    | yes |         | yes  |
| analyst API (/counts, /alerts, /sql)   | yes |         | yes  |
| acks and silences (/alerts/{id}/ack, /silences) | yes |  | yes  |

Every role serves /health and /status. `Worker` is the composition root: its parts are named objects
(streams/worker/parts.py), started as Faust tasks, sharing one publisher and one `Health`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import faust
from clickhouse_connect.driver.client import Client
from faust.types import StreamT

from geo.basemap import base_map
from geo.catalogue import Catalogue
from geo.ports import builtin_ports_path
from schemas.alerts import Alert
from schemas.rejection import DeadLetter
from schemas.transitions import Transition
from streams.analyst.session import AnalystSession
from streams.config.settings import Role, Settings
from streams.delivery.deliver import Deliverer, SilenceBook, delivery_group
from streams.delivery.silences import Silence
from streams.delivery.subscriptions import Subscription
from streams.detect.transition_rules import NO_RULES, TransitionRules
from streams.detect.watchlist import WatchListFile
from streams.kafka.clients import KafkaBatchConsumer
from streams.kafka.security import KafkaConnection
from streams.kafka.topics import ALERTS, ALERTS_DLQ, DLQ, INTERCEPTIONS, TRANSITIONS, VALIDATED, VESSELS
from streams.sinks.clickhouse.alert_ops import ClickHouseAlertOps, read_silences
from streams.sinks.clickhouse.alert_table import ClickHouseAlertSink
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.erase import ErasureRequest, erased_counts
from streams.sinks.clickhouse.events import ClickHouseIncidentSink
from streams.sinks.clickhouse.report_keys import ClickHouseReportKeys
from streams.sinks.clickhouse.transition_table import ClickHouseTransitionSink
from streams.sources.http import MAX_REQUEST_BYTES, HttpIngest
from streams.stages.handoff import HandoffReader
from streams.stages.ingest import Ingest, hand_on
from streams.stages.runner import StageCounts
from streams.stages.store import Store
from streams.web.alert_views import add_alert_ops_views
from streams.web.auth import ApiAccess, auth_middleware, local_hosts
from streams.web.connections import GuardedApp
from streams.web.picture import Picture, add_picture_views
from streams.web.tokens import load_tokens
from streams.web.views import (
    add_analyst_views,
    add_health_views,
    add_ingest_view,
    add_metrics_view,
    add_operator_views,
    add_reload_view,
)
from streams.worker.agents import Detection
from streams.worker.health import Health
from streams.worker.metrics import WorkerMetrics
from streams.worker.parts import BatchStage, PartContext, SharedPublisher, TopicTableSink
from streams.worker.supervise import broker_restarted, run_or_crash

log = logging.getLogger(__name__)
TABLE_SINK_WITHIN_S = 1.0  # alerts and transitions: each insert has a fixed cost


def app_id(settings: Settings) -> str:
    """Faust's app id: the sink keeps out of the detect agents' consumer group."""
    return f"{settings.worker_id}-sink" if settings.role is Role.SINK else settings.worker_id


def faust_app(settings: Settings, kafka: KafkaConnection, access: ApiAccess) -> faust.App:
    """The Faust app: raw bytes on every topic, memory tables, and only borderwatch's own web endpoints."""
    return GuardedApp(
        app_id(settings),
        web_limits=settings.web_limits,
        broker=kafka.faust_broker,
        broker_credentials=kafka.faust_credentials(),
        value_serializer="raw",
        key_serializer="raw",
        datadir=str(settings.data_dir / "faust"),
        store="memory://",
        topic_partitions=settings.partitions,
        topic_disable_leader=True,
        **kafka.faust_group_settings(),
        web_enabled=True,
        web_bind=str(settings.web_bind),
        web_host=settings.web_hosts[0] if settings.web_hosts else str(settings.web_bind),
        web_ssl_context=access.tls,
        web_port=settings.web_port,
        # Only borderwatch's own endpoints, each behind the token (Faust's /table would show its state).
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_application_options={
            "middlewares": [
                auth_middleware(
                    access.callers, local_hosts(settings.web_port, settings.web_hosts), access.sessions
                )
            ],
            "client_max_size": max(settings.analyst.max_sql_bytes * 2 + 1024, MAX_REQUEST_BYTES),
        },
    )


@dataclass(frozen=True)
class WorkerInputs:
    """What start-up hands the worker: settings, the broker it reached, and the files and clients it opened.

    `sink` and `analyst` are given exactly when the role writes ClickHouse.
    """

    settings: Settings
    kafka: KafkaConnection
    cluster: str
    catalogue: Catalogue
    sink: ClickHouseIncidentSink | None
    watch: WatchListFile
    subscriptions: list[Subscription]
    analyst: AnalystSession | None
    access: ApiAccess
    transition_rules: TransitionRules = NO_RULES


class Worker:
    """One worker process: its Faust app, and the parts its role runs, each started as a named task."""

    def __init__(self, inputs: WorkerInputs) -> None:
        settings, role = inputs.settings, inputs.settings.role
        writes_clickhouse = inputs.sink is not None
        assert writes_clickhouse == (role is not Role.PROCESS), "only a process worker lacks ClickHouse"
        self.inputs = inputs
        self.app = faust_app(settings, inputs.kafka, inputs.access)
        self.health = Health()
        self.metrics = WorkerMetrics(self.health)
        self.publisher = SharedPublisher(
            self.app, inputs.kafka, self.health, inputs.cluster, settings.fault_limit_s
        )
        self.app.task(self.publisher.run)
        self.context = PartContext(
            self.app, settings, inputs.kafka, self.health, self.publisher, StageCounts(), self.metrics
        )
        limits = (inputs.catalogue, settings.max_message_bytes, settings.limits)
        self.store = self._store(inputs.sink) if inputs.sink is not None else None
        if role is not Role.SINK:
            ingest = Ingest(*limits)
            forward = self.store.store_and_publish if self.store else hand_on
            BatchStage(self.context, "ingest", (INTERCEPTIONS, VESSELS), ingest.prepare, forward)
        if role is Role.SINK:
            assert self.store is not None
            reader = HandoffReader(*limits)
            BatchStage(self.context, "store", (VALIDATED,), reader.prepare, self.store.store_and_publish)
        self.transition_sink = self._add_table_sinks(inputs.sink) if inputs.sink is not None else None
        detects = settings.detectors and role is not Role.SINK
        self.detection = (
            Detection(self.context, inputs.catalogue, inputs.watch, inputs.transition_rules)
            if detects
            else None
        )
        self.deliverer = self._add_delivery() if detects else None
        if self.detection is None:
            self._keep_the_conductor_whole()
        self._add_views()

    def _store(self, sink: ClickHouseIncidentSink) -> Store:
        settings = self.inputs.settings
        return Store(
            sink, self.inputs.catalogue, settings.partitions, settings.detect, settings.detectors,
            settings.share_notes, self.metrics.reports_stored,
        )  # fmt: skip

    def _add_table_sinks(self, sink: ClickHouseIncidentSink) -> ClickHouseTransitionSink:
        """dlq, alerts and transitions to their ClickHouse tables."""
        database = self.inputs.settings.database
        alerts = ClickHouseAlertSink(sink.client, database)
        transitions = ClickHouseTransitionSink(sink.client, database)
        within_s = self.inputs.settings.batch_within_s
        # A record on dlq that is not a dead letter is stored as one of its own, here: published back to
        # dlq it would only come round again.
        TopicTableSink(
            self.context, "rejects", DLQ, DeadLetter, sink.write_rejects, self._store_rejects, within_s
        )
        dead_letter = self.publisher.dead_letter
        TopicTableSink(
            self.context, "alerts_sink", ALERTS, Alert, alerts.write_alerts, dead_letter, TABLE_SINK_WITHIN_S
        )
        TopicTableSink(
            self.context, "transitions_sink", TRANSITIONS, Transition, transitions.write_transitions,
            dead_letter, TABLE_SINK_WITHIN_S,
        )  # fmt: skip
        return transitions

    async def _store_rejects(self, letters: list[DeadLetter]) -> None:
        assert self.inputs.sink is not None
        await asyncio.to_thread(self.inputs.sink.write_rejects, letters)

    def _add_delivery(self) -> Deliverer:
        """Each centre reads `alerts` in its own group; a fault past its retries stops the worker."""
        inputs = self.inputs
        deliverer = Deliverer(
            inputs.subscriptions, self._delivery_consumer, self.publisher.publish_one, ALERTS_DLQ,
            inputs.settings.cap_sender, SilenceBook(self._silence_reader()),
        )  # fmt: skip
        self.metrics.live.delivery = deliverer.stats
        self.context.add("delivery", self._run_delivery)
        return deliverer

    def _silence_reader(self) -> Callable[[], list[Silence]] | None:
        """How delivery reads the silences: through the sink's client, else (a process worker) a client
        of its own to a ClickHouse server; a process worker beside a local chdb cannot read them."""
        settings, sink = self.inputs.settings, self.inputs.sink
        if sink is not None:
            return lambda: read_silences(sink.client, settings.database)
        if settings.is_local_clickhouse:
            if self.inputs.subscriptions:
                log.warning("a process worker cannot read the silences of a local chdb: it delivers them all")
            return None
        clients: list[Client] = []

        def read() -> list[Silence]:
            if not clients:  # on first use: ClickHouse need not be up when the worker starts
                clients.append(connect(settings.clickhouse_dsn, settings.clickhouse_ca_file))
            return read_silences(clients[0], settings.database)

        return read

    async def _run_delivery(self) -> None:
        assert self.deliverer is not None
        await self.publisher.ready()
        await run_or_crash(self.app, self.health, "delivery", self.deliverer.run)

    def _delivery_consumer(self, sub: Subscription) -> KafkaBatchConsumer:
        """A centre's consumer on `alerts`; it may wait up to the alert's max age between batches."""
        group = delivery_group(self.inputs.settings.worker_id, sub.centre)
        consumer = KafkaBatchConsumer(self.inputs.kafka, group, (ALERTS,), sub.max_age_s + 3600)
        self.metrics.watch_consumer(f"deliver-{sub.centre}", consumer)
        return consumer

    def _keep_the_conductor_whole(self) -> None:
        """Faust's conductor subscribes to its agents' topics and crashes on none at all (aiokafka: "You
        should provide either `topics` or `pattern`"); this agent, on a topic of a few records, keeps it
        whole on a worker without detection."""
        topic = self.app.topic(ALERTS_DLQ, value_serializer="raw")
        self.app.agent(topic, name="no_detection")(_drain)

    def _add_views(self) -> None:
        inputs = self.inputs
        add_health_views(self.app, self.status, self.health.as_dict)
        add_metrics_view(self.app, self.metrics.exposition)
        self.metrics.live.connections = self._connections
        add_reload_view(self.app, self.reload)
        settings = inputs.settings
        stored = None
        if inputs.sink is not None:  # this worker holds ClickHouse: a resend can be told cheaply
            dsn, ca_file = settings.clickhouse_dsn, settings.clickhouse_ca_file
            stored = ClickHouseReportKeys(lambda: connect(dsn, ca_file), settings.database).stored
        publish = self.publisher.publish_batched
        limits = settings.limits
        receive = HttpIngest(inputs.catalogue, settings.max_message_bytes, limits, publish, stored).receive
        add_ingest_view(self.app, receive)
        if inputs.analyst is not None:
            add_analyst_views(self.app, inputs.analyst, self.metrics.analyst_answered)
            add_picture_views(self.app, Picture(
                inputs.analyst, inputs.access.sessions, inputs.access.callers, self._base_map,
                inputs.settings.cap_sender, inputs.access.tls is not None,
            ))  # fmt: skip
        if inputs.sink is not None:
            add_operator_views(self.app, self.erase)
            add_alert_ops_views(self.app, ClickHouseAlertOps(inputs.sink.client, inputs.settings.database))

    def _base_map(self) -> dict[str, object]:
        """The picture's base map: this worker's catalogue and the bundled ports (built on first use)."""
        ports = json.loads(builtin_ports_path().read_text())["features"]
        return base_map(self.inputs.catalogue, ports)

    def _connections(self) -> tuple[int, int, int]:
        """The API's open connections, and those refused and evicted so far."""
        guard = self.app.web.guard  # type: ignore[attr-defined]  # a GuardedWeb (streams/web/connections.py)
        return len(guard.address_of), guard.refused, guard.evicted

    def status(self, exact: bool = False) -> dict[str, object]:
        """/status: what was stored, handled, detected and delivered. The stored totals are kept in memory
        (counted in ClickHouse once, then advanced by this worker's inserts); `exact` counts them again.
        Runs in a thread: the first call, and an exact one, count rows."""
        sink, counts = self.inputs.sink, self.context.counts
        totals: dict[str, object] = {}
        if sink is not None and self.transition_sink is not None:
            moves = self.transition_sink
            stored_moves = {"stored": moves.written, "duplicates": moves.duplicates}
            totals = {**sink.totals(exact), "transitions": stored_moves}
            if sink.earlier:
                totals["broker_restarted"] = broker_restarted(sink.cluster, sink.earlier)
        detection = self.detection.status() if self.detection else {}
        if detection and self.store is not None:
            detection["detect"]["cpu_s"] += round(self.store.split_cpu_s, 3)
        delivery = {"delivery": self.deliverer.stats.summary()} if self.deliverer else {}
        role = self.inputs.settings.role.value
        stored = {"role": role, "processed": counts.processed, "duplicates": counts.duplicates}
        return {**totals, **stored, **detection, **delivery, "lag": self.metrics.lag()}

    def reload(self) -> dict[str, object]:
        """The files an operator may change under a running worker; a bad tokens file changes nothing."""
        inputs = self.inputs
        tokens_file = inputs.settings.web_tokens_file
        named = load_tokens(tokens_file) if tokens_file is not None else []
        ended = 0
        if tokens_file is not None:
            inputs.access.callers.reload(named)
            ended = inputs.access.sessions.revoke()
        watched = len(inputs.watch.refresh())
        problem = {"watch_list_error": inputs.watch.error} if inputs.watch.error else {}
        return {"tokens": len(named), "sessions_ended": ended, "watch_list": watched, **problem}

    def erase(self, wanted: ErasureRequest) -> dict[str, int] | None:
        """The counts of an erasure, or None for an identity never stored (and no tombstone asked)."""
        sink = self.inputs.sink
        assert sink is not None
        try:
            return erased_counts(sink.client, self.inputs.settings.database, wanted)
        finally:
            sink.events_total.forget()  # rows went away outside the sink's inserts


async def _drain(stream: StreamT) -> None:
    async for _ in stream:
        pass
