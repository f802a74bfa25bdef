"""Worker start-up: check the catalogue, reach the broker and ClickHouse, then run the Faust worker."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import ssl
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import faust
from aiokafka.errors import KafkaError

from geo.catalogue import Catalogue, load_catalogue
from schemas.codec import encode_obj
from schemas.errors import ApiConfigError, BrokerUnavailableError, DataDirInUseError
from streams.analyst.alert_state import ClearTimes
from streams.analyst.session import AnalystSession
from streams.config.settings import LOCAL, Role, Settings
from streams.delivery.subscriptions import Subscription, load_subscriptions
from streams.detect.transition_rules import NO_RULES, load_transition_rules
from streams.detect.watchlist import WatchListFile
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import free_port, running_local_broker, start_local_broker
from streams.kafka.security import KafkaConnection, tls_problem
from streams.kafka.topics import ALL_TOPICS
from streams.sinks.clickhouse.connection import connect, redact_dsn
from streams.sinks.clickhouse.events import ClickHouseIncidentSink
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.sinks.clickhouse.repair import DerivedTableRepair
from streams.sinks.clickhouse.retention import apply_retention
from streams.web.audit_log import AuditFileHandler
from streams.web.auth import ApiAccess, audit
from streams.web.limits import reserve_descriptors
from streams.web.picture_sessions import PictureSessions
from streams.web.tls import server_context
from streams.web.tokens import Callers, load_tokens
from streams.worker.app import Worker, WorkerInputs
from streams.worker.datadir import (
    AUDIT_FILE,
    STATE_FILE,
    ensure_token,
    holder_of,
    running_worker_process,
    secure_data_dir,
)
from streams.worker.logs import logging_config
from streams.worker.supervise import broker_restarted

log = logging.getLogger(__name__)


def resolve_broker(settings: Settings) -> str:
    """The broker URL to use; with 'local', reuse this data dir's broker or start one.

    A broker started here outlives this worker (a crash, an OOM kill, a stop): what the worker
    acknowledged stays on it for the next worker on the data dir. `borderwatch broker stop` ends it.
    """
    if settings.kafka != LOCAL:
        return settings.kafka
    running = running_local_broker(settings.data_dir)
    if running:
        return running
    broker = start_local_broker(settings.data_dir)
    log.info(
        "started the bundled Tansu broker at %s (pid %d); it runs on after this worker: "
        "`borderwatch broker stop` stops it", broker.url, broker.process.pid,
    )  # fmt: skip
    return broker.url


@dataclass(frozen=True)
class ReachedBroker:
    """The broker a worker reached: its address, the connection its clients use, and its cluster id."""

    url: str
    kafka: KafkaConnection
    cluster: str


@dataclass(frozen=True)
class OpenedClickHouse:
    """ClickHouse as a worker of a writing role opens it: the sink, the analysts' session, migrations run."""

    sink: ClickHouseIncidentSink
    analyst: AnalystSession
    applied: int


def reach_broker(settings: Settings, subscriptions: list[Subscription]) -> ReachedBroker:
    """The broker, with every topic this worker needs created; one that cannot be reached stops the start."""
    url = resolve_broker(settings)
    kafka = replace(settings.kafka_security.connect(url), session_timeout_s=settings.kafka_session_timeout_s)
    try:
        centre_topics = tuple(s.topic for s in subscriptions if s.topic)
        cluster = asyncio.run(ensure_topics(kafka, settings.partitions, ALL_TOPICS + centre_topics))
    except KafkaError as error:
        reason = asyncio.run(tls_problem(kafka)) or str(error)
        raise BrokerUnavailableError(
            f"cannot reach the broker at {url!r} over {kafka.protocol}: {reason}"
        ) from None
    return ReachedBroker(url, kafka, cluster)


def open_clickhouse(settings: Settings, cluster: str, stack: ExitStack) -> OpenedClickHouse:
    """Connect, migrate, set retention, note the broker's cluster, and mend what a crash left behind."""
    dsn, ca_file = settings.clickhouse_dsn, settings.clickhouse_ca_file
    try:
        sink = ClickHouseIncidentSink(connect(dsn, ca_file), settings.database)
    except Exception as error:
        if "Cannot lock file" not in str(error):
            raise
        raise data_dir_in_use(settings, holder_of(settings.chdb_dir / "status")) from None
    applied = migrate(sink.client, settings.database)
    changed = apply_retention(sink.client, settings.database, settings.retention)
    if changed:
        log.info("retention set: %s", ", ".join(changed))
    earlier = sink.open_log(cluster)
    if earlier:
        log.warning("%s", broker_restarted(cluster, earlier))
    repair = DerivedTableRepair(sink.client, settings.database)
    for table in repair.repair_derived(settings.retention.positions_days):
        log.warning("%s disagreed with events after a crash; repaired it", table)
    analyst = AnalystSession(
        lambda: connect(dsn, ca_file), settings.database, settings.analyst, ClearTimes.of(settings.detect)
    )
    stack.callback(analyst.close)
    return OpenedClickHouse(sink, analyst, applied)


def announce(settings: Settings, broker_url: str, stack: ExitStack) -> None:
    """The state file through which the CLI finds the process that holds ClickHouse, removed at exit."""
    state_file = settings.data_dir / STATE_FILE
    cert = settings.web_tls_cert_file
    state_file.write_bytes(encode_obj({
        "pid": os.getpid(), "port": settings.web_port, "broker": broker_url,
        "tls_cert": str(cert.resolve()) if cert else None,
    }))  # fmt: skip
    stack.callback(lambda: state_file.unlink(missing_ok=True))


def run_worker(settings: Settings) -> None:
    """Run a worker in the foreground until it is stopped; faults stop the start with a message."""
    catalogue = load_catalogue(settings.geofences)
    watch = WatchListFile(settings.watch_list)
    subscriptions = load_subscriptions(settings.subscriptions) if settings.subscriptions else []
    rules_file = settings.transition_rules
    rules = load_transition_rules(rules_file, catalogue.crossings.ids) if rules_file else NO_RULES
    secure_data_dir(settings.data_dir)
    running = running_worker_process(settings.data_dir)
    if running is not None and settings.is_local_clickhouse and settings.role is not Role.PROCESS:
        raise data_dir_in_use(settings, running[0])
    reserve_descriptors(settings.web_limits)  # before chdb and Kafka open theirs
    access = api_access(settings)
    audit_to(settings.data_dir / AUDIT_FILE, settings.retention.raw_days)
    with ExitStack() as stack:
        broker = reach_broker(settings, subscriptions)
        writes_clickhouse = settings.role is not Role.PROCESS
        clickhouse = open_clickhouse(settings, broker.cluster, stack) if writes_clickhouse else None
        settings = settings.model_copy(update={"web_port": settings.web_port or free_port()})
        app = Worker(WorkerInputs(
            settings, broker.kafka, broker.cluster, catalogue, clickhouse.sink if clickhouse else None, watch,
            subscriptions, clickhouse.analyst if clickhouse else None, access, rules,
        )).app  # fmt: skip
        if clickhouse is not None:
            announce(settings, broker.url, stack)
        log.info(
            "worker %s, role %s: broker %s (%s), ClickHouse %s (%d migrations applied), catalogue %s, "
            "http :%d, %d watched identifiers, %d subscriptions, %d transition rules",
            settings.worker_id, settings.role.value, broker.url, broker.kafka.protocol.value,
            redact_dsn(settings.clickhouse_dsn) if clickhouse else "none (process role)",
            clickhouse.applied if clickhouse else 0, _describe(catalogue), settings.web_port,
            len(watch.current), len(subscriptions), len(rules),
        )  # fmt: skip
        # Quiet and at info or above, Faust's spinner stays off (it would set the root logger to DEBUG).
        worker = faust.Worker(
            app, loglevel=settings.log_level.value, quiet=True,
            logging_config=logging_config(settings.log_format, settings.log_level, settings.log_tables),
        )  # fmt: skip
        # The start-up heap (Faust, aiokafka, shapely, the catalogue) never becomes garbage;
        # frozen, the collector stops rescanning it after every few thousand allocations.
        gc.collect()
        gc.freeze()
        worker.execute_from_commandline()


def data_dir_in_use(settings: Settings, pid: int | None) -> DataDirInUseError:
    """What to say when another process holds this data dir's ClickHouse."""
    holder = f"worker pid {pid}" if pid is not None else "another process"
    return DataDirInUseError(
        f"the data dir {str(settings.data_dir)!r} is in use by {holder}: stop it first, or give this worker "
        "its own BORDERWATCH_DATA_DIR (or a ClickHouse server in BORDERWATCH_CLICKHOUSE)",
        pid,
    )


def api_access(settings: Settings) -> ApiAccess:
    """The data dir's token, the named tokens and the API's TLS; files that cannot serve stop the start."""
    named, tls = [], None
    try:
        if settings.web_tokens_file is not None:
            named = load_tokens(settings.web_tokens_file)
        if settings.web_tls_cert_file and settings.web_tls_key_file:
            tls = server_context(settings.web_tls_cert_file, settings.web_tls_key_file)
    except (ValueError, OSError, ssl.SSLError) as error:
        raise ApiConfigError(str(error)) from None
    callers = Callers(ensure_token(settings.data_dir), named)
    return ApiAccess(callers, tls, PictureSessions(still_valid=callers.still))


def audit_to(path: Path, keep_days: int) -> None:
    """The audit of the API (logger borderwatch.audit) as JSON lines in the data dir, private,
    kept `keep_days` (the raw reports' retention)."""
    audit.addHandler(AuditFileHandler(path, keep_days))
    audit.setLevel(logging.INFO)
    audit.propagate = False


def _describe(catalogue: Catalogue) -> str:
    return f"{catalogue.source} ({len(catalogue.crossings.ids)} crossings)"
