"""The Faust app of one worker process, assembled from the parts its role runs (README, "Roles").

| part                                   | all | process | sink |
|----------------------------------------|-----|---------|------|
| ingest: input topics, validate, enrich | yes | yes     |      |
| store: events table, then the topics   | yes |         | yes (from `events.validated`) |
| detect agents and tick                 | yes | yes     |      |
| delivery to centres                    | yes | yes     |      |
| rejects, alerts, transitions tables    | yes |         | yes  |
| analyst API (/counts, /alerts, /sql)   | yes |         | yes  |

Every role serves /health and /status.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import faust
from faust.types import StreamT

from geo.catalogue import Catalogue
from schemas.alerts import Alert
from schemas.codec import encode
from schemas.rejection import DeadLetter
from schemas.transitions import Transition
from streams.analyst.session import AnalystSession
from streams.delivery.deliver import Deliverer, delivery_group
from streams.delivery.subscriptions import Subscription
from streams.detect.transition_rules import NO_RULES, TransitionRules
from streams.detect.watchlist import WatchListFile
from streams.detect_agents import add_detection
from streams.kafka.clients import KafkaBatchConsumer, KafkaEventPublisher
from streams.kafka.security import KafkaConnection
from streams.kafka.topics import ALERTS, ALERTS_DLQ, DLQ, INTERCEPTIONS, TRANSITIONS, VALIDATED, VESSELS
from streams.poison import dead_letter_key
from streams.settings import Role, Settings
from streams.sinks.alerts import ClickHouseAlertSink
from streams.sinks.clickhouse import ClickHouseIncidentSink
from streams.sinks.erase import erase_report
from streams.sinks.topic import TopicSink
from streams.sinks.transitions import ClickHouseTransitionSink
from streams.sources.http import MAX_REQUEST_BYTES, HttpIngest
from streams.stages.batches import Forward, Retry, StageCounts, run_batches
from streams.stages.ingest import Ingest, hand_on
from streams.stages.store import Handoff, Store
from streams.supervise import broker_restarted, retry_faults, run_or_crash, watch_broker
from streams.web.auth import ApiAccess, auth_middleware, local_hosts
from streams.web.connections import GuardedApp
from streams.web.tokens import load_tokens
from streams.web.views import (
    add_analyst_views,
    add_health_views,
    add_ingest_view,
    add_operator_views,
    add_reload_view,
)

log = logging.getLogger(__name__)
TABLE_SINK_WITHIN_S = 1.0  # alerts and transitions: each insert has a fixed cost


def app_id(settings: Settings) -> str:
    """Faust's app id: the sink keeps out of the detect agents' consumer group."""
    return f"{settings.worker_id}-sink" if settings.role is Role.SINK else settings.worker_id


def create_app(
    settings: Settings,
    kafka: KafkaConnection,
    cluster: str,
    catalogue: Catalogue,
    sink: ClickHouseIncidentSink | None,
    watch: WatchListFile,
    subscriptions: list[Subscription],
    analyst: AnalystSession | None,
    access: ApiAccess,
    transition_rules: TransitionRules = NO_RULES,
) -> faust.App:
    """The worker's Faust app on broker `cluster`; `sink` and `analyst` are given exactly when the role
    writes ClickHouse."""
    role = settings.role
    assert (sink is not None) == (role is not Role.PROCESS), "only a process worker runs without ClickHouse"
    app = GuardedApp(
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
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=4.0,
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
                auth_middleware(access.callers, local_hosts(settings.web_port, settings.web_hosts))
            ],
            "client_max_size": max(settings.analyst.max_sql_bytes * 2 + 1024, MAX_REQUEST_BYTES),
        },
    )
    health: dict[str, str] = {"broker": "starting"}
    publishers: list[KafkaEventPublisher] = []  # made in run_publisher: aiokafka needs the running loop
    ready = asyncio.Event()
    counts = StageCounts()

    def group(part: str) -> str:
        """A batch consumer's own consumer group."""
        return f"{settings.worker_id}-{part}"

    def retry(part: str) -> Retry:
        """Faults of `part` retried with backoff up to the fault limit, shown in /health meanwhile."""
        return partial(retry_faults, health, part, settings.fault_limit_s)

    async def publish(topic: str, key: bytes, value: bytes) -> None:
        await publishers[0].publish(topic, [(key, value)])

    async def dead_letter(letters: list[DeadLetter]) -> None:
        await publishers[0].publish(DLQ, [(dead_letter_key(d), encode(d)) for d in letters])

    async def stage(
        part: str, topics: tuple[str, ...], prepare: Callable[[Any], Any], forward: Forward
    ) -> None:
        """Batches of `topics` through prepare and forward, in a consumer group of their own."""
        await ready.wait()
        consumer = KafkaBatchConsumer(kafka, group(part), topics)
        await consumer.start()
        try:
            await run_or_crash(app, health, part, lambda: run_batches(
                prepare, forward, consumer, publishers[0], counts, settings.batch_size,
                settings.batch_within_s, retry(part),
            ))  # fmt: skip
        finally:
            await consumer.stop()

    async def table_sink(
        part: str, topic: str, model: Any, write: Callable[[Any], None],
        undecodable: Callable[[list[DeadLetter]], Awaitable[None]], within_s: float,
    ) -> None:  # fmt: skip
        """A topic to a ClickHouse table; a record that is not a `model` goes to `undecodable`."""
        await ready.wait()
        consumer = KafkaBatchConsumer(kafka, group(topic), (topic,))
        await consumer.start()
        topic_sink = TopicSink(
            consumer, model, write, undecodable, settings.batch_size, within_s,
            retry(part),
        )  # fmt: skip
        try:
            await run_or_crash(app, health, part, topic_sink.run)
        finally:
            await consumer.stop()

    @app.task
    async def run_publisher() -> None:
        """The parts' shared publisher, open while the worker runs; it also watches the broker."""
        publisher = KafkaEventPublisher(kafka)
        await publisher.start()
        publishers.append(publisher)
        ready.set()
        try:
            await run_or_crash(app, health, "broker", lambda: watch_broker(
                health, publisher.cluster_id, cluster, settings.fault_limit_s
            ))  # fmt: skip
        finally:
            await publisher.stop()

    store = (
        Store(sink, catalogue, settings.partitions, settings.detect, settings.detectors, settings.share_notes)
        if sink is not None
        else None
    )
    limits = (catalogue, settings.max_message_bytes, settings.limits)
    if role is not Role.SINK:
        ingest = Ingest(*limits)
        forward = store.store_and_publish if store else hand_on
        health["ingest"] = "starting"

        @app.task
        async def run_ingest() -> None:
            """Input topics: validated and enriched, stored (all) or handed to the sink (process)."""
            await stage("ingest", (INTERCEPTIONS, VESSELS), ingest.prepare, forward)

    if role is Role.SINK:
        assert store is not None
        handoff = Handoff(*limits)
        health["store"] = "starting"

        @app.task
        async def run_store() -> None:
            """`events.validated` from the process workers: stored once, then on to the topics."""
            await stage("store", (VALIDATED,), handoff.prepare, store.store_and_publish)

    if sink is not None:
        alert_sink = ClickHouseAlertSink(sink.client, settings.database)
        transition_sink = ClickHouseTransitionSink(sink.client, settings.database)
        health.update({"rejects": "starting", "alerts_sink": "starting", "transitions_sink": "starting"})

        async def store_directly(letters: list[DeadLetter]) -> None:
            # Published back to dlq they would only come round again: store them here.
            await asyncio.to_thread(sink.write_rejects, letters)

        @app.task
        async def sink_rejects() -> None:
            """dlq to the rejects table; a record that is not a dead letter is stored as one of its own."""
            await table_sink(
                "rejects", DLQ, DeadLetter, sink.write_rejects, store_directly, settings.batch_within_s
            )

        @app.task
        async def sink_alerts() -> None:
            """`alerts` to ClickHouse."""
            await table_sink(
                "alerts_sink", ALERTS, Alert, alert_sink.write_alerts, dead_letter, TABLE_SINK_WITHIN_S
            )

        @app.task
        async def sink_transitions() -> None:
            """`transitions` to ClickHouse."""
            await table_sink(
                "transitions_sink", TRANSITIONS, Transition, transition_sink.write_transitions,
                dead_letter, TABLE_SINK_WITHIN_S,
            )  # fmt: skip

    detects = settings.detectors and role is not Role.SINK
    runtime = (
        add_detection(app, settings, kafka, catalogue, watch, transition_rules) if detects else None
    )
    deliverer = (
        Deliverer(
            subscriptions, partial(_delivery_consumer, kafka, settings.worker_id), publish,
            ALERTS_DLQ, settings.cap_sender,
        )
        if detects
        else None
    )  # fmt: skip
    if deliverer is not None:
        health["delivery"] = "starting"

        @app.task
        async def run_delivery() -> None:
            """Each centre reads `alerts` in its own group; a fault past its retries stops the worker."""
            await ready.wait()
            await run_or_crash(app, health, "delivery", deliverer.run)

    if runtime is None:
        # Faust's conductor subscribes to its agents' topics and crashes on none at all
        # (aiokafka: "You should provide either `topics` or `pattern`"); this agent only keeps
        # the conductor whole, on a topic of a few records.
        @app.agent(app.topic(ALERTS_DLQ, value_serializer="raw"), name="no_detection")
        async def no_detection(stream: StreamT) -> None:
            async for _ in stream:
                pass

    def status() -> dict[str, object]:
        totals: dict[str, object] = {}
        if sink is not None:
            stored_moves = {"stored": transition_sink.written, "duplicates": transition_sink.duplicates}
            totals = {**sink.totals(), "transitions": stored_moves}
            if sink.earlier:
                totals["broker_restarted"] = broker_restarted(sink.cluster, sink.earlier)
        detection = runtime.status() if runtime else {}
        if detection and store is not None:
            detection["detect"]["cpu_s"] += round(store.split_cpu_s, 3)
        delivery = {"delivery": deliverer.stats.summary()} if deliverer else {}
        stored = {"role": role.value, "processed": counts.processed, "duplicates": counts.duplicates}
        return {**totals, **stored, **detection, **delivery}

    def health_now() -> dict[str, str]:
        return {**health, **(runtime.health if runtime else {})}

    add_health_views(app, status, health_now)

    def reload() -> dict[str, object]:
        """The files an operator may change under a running worker; a bad tokens file changes nothing."""
        tokens_file = settings.web_tokens_file
        if tokens_file is not None:
            named = load_tokens(tokens_file)
            access.callers.reload(named)
        watched = len(watch.refresh())
        problem = {"watch_list_error": watch.error} if watch.error else {}
        return {"tokens": len(named) if tokens_file else 0, "watch_list": watched, **problem}

    add_reload_view(app, reload)

    async def publish_many(topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
        await ready.wait()
        await publishers[0].publish_batched(topic, messages)  # murmur2, as replay's producer partitions

    add_ingest_view(
        app, HttpIngest(catalogue, settings.max_message_bytes, settings.limits, publish_many).receive
    )
    if analyst is not None:
        add_analyst_views(app, analyst)
    if sink is not None:
        add_operator_views(app, lambda wanted: erase_report(sink.client, settings.database, wanted).as_dict())
    return app


def _delivery_consumer(kafka: KafkaConnection, worker_id: str, sub: Subscription) -> KafkaBatchConsumer:
    """A centre's consumer on `alerts`; it may wait up to the alert's max age between batches."""
    return KafkaBatchConsumer(
        kafka, delivery_group(worker_id, sub.centre), (ALERTS,), sub.max_age_s + 3600
    )
