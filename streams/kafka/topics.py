"""Topic names and the configs they are created with (creation: streams/kafka/admin.py)."""

from __future__ import annotations

from schemas.events import ReportKind

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
# Internal: encounter findings of every cells partition, on the partition of their vessel pair
# (see streams/detect/meeting_news.py).
DETECT_MEETINGS = "detect.meetings"
ALL_TOPICS = (
    INTERCEPTIONS, VESSELS, ENRICHED, VALIDATED, DLQ, ALERTS, ALERTS_DLQ,
    DETECT_TRACKS, DETECT_CELLS, DETECT_MEETINGS, TRANSITIONS,
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
