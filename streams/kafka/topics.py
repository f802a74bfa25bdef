"""Topic names and their creation with explicit configs (Tansu reports only configs set at creation)."""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas.events import ReportKind
from streams.kafka.security import Brokers, as_connection, start_client

INTERCEPTIONS = "reports.interceptions"
VESSELS = "reports.vessels"
ENRICHED = "events.enriched"
# Internal: accepted reports from `process` workers to the sink role (streams/stages/handoff.py).
VALIDATED = "events.validated"
DLQ = "dlq"
ALERTS = "alerts"
ALERTS_DLQ = "alerts.dlq"
# Internal: every geofence transition, as data (schemas/transitions.py), keyed by vessel.
TRANSITIONS = "transitions"
# Internal: each ingest batch in columns, per partition (see streams/detect/columns.py).
DETECT_TRACKS = "detect.tracks"
DETECT_CELLS = "detect.cells"
ALL_TOPICS = (
    INTERCEPTIONS, VESSELS, ENRICHED, VALIDATED, DLQ, ALERTS, ALERTS_DLQ,
    DETECT_TRACKS, DETECT_CELLS, TRANSITIONS,
)  # fmt: skip

KIND_OF_TOPIC = {INTERCEPTIONS: ReportKind.INTERCEPTION, VESSELS: ReportKind.VESSEL}

WEEK_MS = 7 * 24 * 3600 * 1000
# A dead letter carries the refused message base64-encoded, so it can be a third
# larger than the largest report a producer could send.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
TOPIC_CONFIGS = {
    "retention.ms": str(WEEK_MS),
    "retention.bytes": "-1",
    "cleanup.policy": "delete",
    "max.message.bytes": str(MAX_MESSAGE_BYTES),
}


async def ensure_topics(brokers: Brokers, partitions: int, topics: tuple[str, ...] = ALL_TOPICS) -> str:
    """Create the topics that do not exist yet (existing ones are left as they are); returns the
    broker's cluster id, which names the log whose offsets the worker will read."""
    connection = as_connection(brokers)
    admin = AIOKafkaAdminClient(**connection.client_kwargs())
    await start_client(admin, connection)
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=partitions, replication_factor=1, topic_configs=TOPIC_CONFIGS)
            for name in topics
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process was first
                await admin.create_topics(missing)
        return str((await admin.describe_cluster()).get("cluster_id") or "")
    finally:
        await admin.close()
