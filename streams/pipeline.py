"""Validate and enrich a batch of raw messages; pure, no I/O, the heart of the ingest agent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from geo.catalogue import Catalogue
from geo.lookup import crossing_route, locate
from schemas.events import EnrichedEvent, ReportKind, SourceOffset
from schemas.rejection import DeadLetter, Rejected
from schemas.reports import InterceptionReport, Report
from schemas.validate import MAX_MESSAGE_BYTES, validate_report


@dataclass(frozen=True)
class RawMessage:
    """One message as read from an input topic."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    kind: ReportKind
    published_at: datetime | None = None


@dataclass
class BatchResult:
    """What one batch became: accepted events and dead letters, in input order."""

    events: list[EnrichedEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def process_batch(
    messages: list[RawMessage],
    catalogue: Catalogue,
    now: datetime,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> BatchResult:
    """Validate every message, then locate all accepted positions in one vectorised lookup."""
    result = BatchResult()
    accepted: list[tuple[RawMessage, Report]] = []
    crossing_ids = catalogue.crossing_ids
    for message in messages:
        outcome = validate_report(message.value, message.kind, now, crossing_ids, max_bytes)
        if isinstance(outcome, Rejected):
            result.dead_letters.append(
                DeadLetter.of(
                    outcome,
                    message.value or b"",
                    message.topic,
                    message.partition,
                    message.offset,
                    now,
                )
            )
        else:
            accepted.append((message, outcome))
    if not accepted:
        return result
    lon = np.array([r.lon if r.lon is not None else np.nan for _, r in accepted])
    lat = np.array([r.lat if r.lat is not None else np.nan for _, r in accepted])
    found = locate(catalogue, lon, lat)
    for i, (message, report) in enumerate(accepted):
        if report.lat is None and isinstance(report, InterceptionReport) and report.crossing_id:
            # No position: the producer's crossing hint places the report.
            crossing_id = report.crossing_id
            country, route = crossing_route(catalogue, crossing_id)
        else:
            crossing_id = str(found.crossing_id[i])
            country, route = str(found.country[i]), str(found.route[i])
        # Every part is already validated: construct without validating again.
        event = EnrichedEvent.model_construct(
            kind=message.kind,
            report=report,
            crossing_id=crossing_id,
            country=country,
            route=route,
            received_at=now,
            published_at=message.published_at,
            source=SourceOffset.model_construct(
                topic=message.topic, partition=message.partition, offset=message.offset
            ),
        )
        result.events.append(event.keep_raw(message.value or b""))
    return result


def first_copies(events: list[EnrichedEvent]) -> list[EnrichedEvent]:
    """Drop later copies of the same (authority, report_id) within one batch."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for event in events:
        identity = (event.report.authority, event.report.report_id)
        if identity not in seen:
            seen.add(identity)
            unique.append(event)
    return unique
