"""Message keys: which partition a record goes to, one rule per kind of record.

Every copy of one report lands on the same partition, so the store stage sees
a resend beside the original; every report of one vessel lands on the same
partition, so its track is judged in one place.
"""

from __future__ import annotations

from schemas.codec import decode_obj
from schemas.keys import report_identity, vessel_key
from schemas.rejection import DeadLetter
from streams.kafka.topics import VESSELS


def message_key(topic: str, line: bytes) -> bytes | None:
    """The key of a raw report line on an input topic, as replay and HTTP ingest send it.

    A line that is not a JSON object still goes out (the worker rejects it
    with a reason); it just has no key.
    """
    try:
        report = decode_obj(line)
    except ValueError:
        return None
    if not isinstance(report, dict):
        return None
    if topic == VESSELS:
        key = vessel_key(report.get("mmsi"), report.get("imo"), report.get("track_id"))
        return key.encode() if key is not None else None
    return report_identity(str(report.get("authority")), str(report.get("report_id"))).encode()


def dead_letter_key(dead_letter: DeadLetter) -> bytes:
    """The `dlq` key of a dead letter: where the refused message was (topic, partition, offset)."""
    d = dead_letter
    return f"{d.source_topic}:{d.source_partition}:{d.source_offset}".encode()
