"""Insert blocks: named rows of the events and rejects tables, their columns, and each block's token."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from schemas.rejection import DeadLetter
from schemas.reports import InterceptionReport, VesselReport
from streams.stages.enrich import Enriched


class EventRow(NamedTuple):
    """One row of the events table, its fields named and ordered as the insert's columns."""

    authority: str
    report_id: str
    kind: str
    observed_at: datetime
    reported_at: datetime | None
    received_at: datetime
    published_at: datetime | None
    lat_deg: float | None
    lon_deg: float | None
    crossing_id: str
    country: str
    route: str
    incident_type: str
    persons: int
    nationalities: dict[str, int]
    vessel_key: str
    source_topic: str
    source_partition: int
    source_offset: int
    source_cluster: str
    report: str


class RejectRow(NamedTuple):
    """One row of the rejects table, its fields named and ordered as the insert's columns."""

    source_topic: str
    source_partition: int
    source_offset: int
    source_cluster: str
    reason: str
    field: str
    detail: str
    received_at: datetime
    raw: bytes


EVENT_COLUMNS: tuple[str, ...] = EventRow._fields
REJECT_COLUMNS: tuple[str, ...] = RejectRow._fields


def event_row(event: Enriched, cluster: str) -> EventRow:
    """The events table's row of an event read from broker `cluster`."""
    return EventRow(*(column[0] for column in event_columns([event], cluster)))


def reject_row(dead_letter: DeadLetter, cluster: str) -> RejectRow:
    """The rejects table's row of a dead letter read from broker `cluster`."""
    return RejectRow(
        source_topic=dead_letter.source_topic,
        source_partition=dead_letter.source_partition,
        source_offset=dead_letter.source_offset,
        source_cluster=cluster,
        reason=dead_letter.reason.value,
        field=dead_letter.field,
        detail=dead_letter.detail,
        received_at=dead_letter.received_at,
        raw=dead_letter.raw,
    )


def to_columns(rows: Iterable[NamedTuple], width: int) -> list[list[Any]]:
    """Rows turned into `width` columns, in the rows' field order (`width` empty ones for no rows)."""
    columns: list[list[Any]] = [[] for _ in range(width)]
    for row in rows:
        for column, value in zip(columns, row):
            column.append(value)
    return columns


def event_columns(events: Sequence[Enriched], cluster: str) -> list[list[Any]]:
    """The events table's columns for a batch read from broker `cluster`, in EVENT_COLUMNS order.

    Built column by column, straight from the events: a row tuple per event, transposed, cost
    twice as much.
    """
    reports = [event.report for event in events]
    interceptions = [r if isinstance(r, InterceptionReport) else None for r in reports]
    details = [i.persons_detail if i is not None else None for i in interceptions]
    sources = [event.source for event in events]
    columns: dict[str, list[Any]] = {
        "authority": [r.authority for r in reports],
        "report_id": [r.report_id for r in reports],
        "kind": [event.kind.value for event in events],
        "observed_at": [r.observed_at for r in reports],
        "reported_at": [r.reported_at for r in reports],
        "received_at": [event.received_at for event in events],
        "published_at": [event.published_at for event in events],
        "lat_deg": [r.lat for r in reports],
        "lon_deg": [r.lon for r in reports],
        "crossing_id": [event.crossing_id for event in events],
        "country": [event.country for event in events],
        "route": [event.route for event in events],
        "incident_type": [i.incident_type.value if i is not None else "" for i in interceptions],
        "persons": [i.persons if i is not None else 0 for i in interceptions],
        "nationalities": [(d.nationalities or {}) if d is not None else {} for d in details],
        "vessel_key": [e.key if isinstance(e.report, VesselReport) else "" for e in events],
        "source_topic": [s.topic for s in sources],
        "source_partition": [s.partition for s in sources],
        "source_offset": [s.offset for s in sources],
        "source_cluster": [cluster] * len(events),
        "report": [event.raw.decode("utf-8") for event in events],
    }
    return [columns[name] for name in EVENT_COLUMNS]


def reject_columns(dead_letters: Sequence[DeadLetter], cluster: str) -> list[list[Any]]:
    """The rejects table's columns for a batch read from broker `cluster`, in REJECT_COLUMNS order."""
    return to_columns((reject_row(d, cluster) for d in dead_letters), len(REJECT_COLUMNS))


def once_settings(token: str) -> dict[str, Any]:
    """The settings of an insert that must land once: its block's token, and through a Distributed
    table (a cluster) the insert answers only once every shard has the rows, so a committed offset
    never runs ahead of what the shards hold, and the token reaches them."""
    return {"insert_deduplication_token": token, "distributed_foreground_insert": 1}


def batch_token(kind: str, identities: Sequence[tuple[object, ...]]) -> str:
    """A deterministic identity for an insert: the same rows give the same token."""
    digest = hashlib.sha256(kind.encode())
    for identity in sorted(identities, key=repr):
        digest.update(repr(identity).encode())
    return f"{kind}-{digest.hexdigest()}"
