"""The `events.validated` record: an accepted report handed from an ingest worker to the sink.

It carries the report's raw bytes verbatim (as a string: they were valid
UTF-8 JSON to be accepted) and where it was read, so the sink stores exactly
what one process would have stored and recognises resends by the same
identity and source. The topic is hostile like any other: the sink checks the
report again, against the time it was received, and the place against the
catalogue.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import UTC, datetime

import orjson

from geo.catalogue import Catalogue
from schemas.events import ReportKind
from schemas.limits import ReportLimits
from schemas.rejection import DeadLetter, Rejected
from schemas.validate import validate_report
from streams.stages.dead_letters import undecodable_letter
from streams.stages.enrich import Enriched, Source, first_copies
from streams.stages.runner import PreparedBatch, Records


def encode_validated(event: Enriched) -> bytes:
    """The record's value."""
    return orjson.dumps(
        {
            "kind": event.kind.value,
            "raw": event.raw.decode("utf-8"),
            "crossing_id": event.crossing_id,
            "country": event.country,
            "route": event.route,
            "received_at": event.received_at,
            "published_at": event.published_at,
            "source": list(event.source),
        }
    )


def decode_validated(
    value: bytes | None, catalogue: Catalogue, max_bytes: int, limits: ReportLimits
) -> Enriched:
    """The Enriched of a record; raises ValueError naming what is wrong with a record that is not one."""
    try:
        record = orjson.loads(value or b"")
        kind = ReportKind(record["kind"])
        raw = str(record["raw"]).encode("utf-8")
        received_at = datetime.fromisoformat(record["received_at"])
        published = record.get("published_at")
        published_at = datetime.fromisoformat(published) if published is not None else None
        topic, partition, offset = record["source"]
        source = Source(str(topic), int(partition), int(offset))
        place = (str(record["crossing_id"]), str(record["country"]), str(record["route"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, UnicodeError) as error:
        raise ValueError(f"not an events.validated record: {type(error).__name__}: {error}") from None
    if received_at.tzinfo is None:
        raise ValueError("received_at has no time zone")
    report = validate_report(raw, kind, received_at, catalogue.crossing_ids, max_bytes, limits)
    if isinstance(report, Rejected):
        raise ValueError(f"the report does not validate: {report.reason.value}: {report.detail}")
    _check_place(place, catalogue.crossing_ids)
    crossing_id, country, route = place
    return Enriched(kind, report, raw, crossing_id, country, route, received_at, published_at, source)


def _check_place(place: tuple[str, str, str], crossings: Container[str]) -> None:
    crossing_id = place[0]
    if crossing_id and crossing_id not in crossings:
        raise ValueError(f"crossing {crossing_id!r} is not in the catalogue")


class HandoffReader:
    """The sink's reader of `events.validated`: each record decoded and checked, or a dead letter."""

    def __init__(self, catalogue: Catalogue, max_bytes: int, limits: ReportLimits) -> None:
        self.catalogue = catalogue
        self.max_bytes = max_bytes
        self.limits = limits

    def prepare(self, records: Records) -> PreparedBatch:
        """The batch's events (first copy of each report) and a dead letter per bad record."""
        events: list[Enriched] = []
        letters: list[DeadLetter] = []
        now = datetime.now(UTC)
        for r in records:
            try:
                events.append(decode_validated(r.value, self.catalogue, self.max_bytes, self.limits))
            except ValueError as error:
                letters.append(undecodable_letter(r.topic, r.partition, r.offset, r.value, str(error), now))
        unique = first_copies(events)
        return PreparedBatch(records, unique, letters, len(events) - len(unique))
