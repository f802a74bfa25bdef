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
    report = event.report
    interception = report if isinstance(report, InterceptionReport) else None
    detail = interception.persons_detail if interception else None
    return EventRow(
        authority=report.authority,
        report_id=report.report_id,
        kind=event.kind.value,
        observed_at=report.observed_at,
        reported_at=report.reported_at,
        received_at=event.received_at,
        published_at=event.published_at,
        lat_deg=report.lat,
        lon_deg=report.lon,
        crossing_id=event.crossing_id,
        country=event.country,
        route=event.route,
        incident_type=interception.incident_type.value if interception else "",
        persons=interception.persons if interception else 0,
        nationalities=(detail.nationalities or {}) if detail else {},
        vessel_key=event.key if isinstance(report, VesselReport) else "",
        source_topic=event.source.topic,
        source_partition=event.source.partition,
        source_offset=event.source.offset,
        source_cluster=cluster,
        report=event.raw.decode("utf-8"),
    )


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
    """The events table's columns for a batch read from broker `cluster`, in EVENT_COLUMNS order."""
    return to_columns((event_row(event, cluster) for event in events), len(EVENT_COLUMNS))


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
