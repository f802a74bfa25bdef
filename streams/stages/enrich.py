"""Validate and enrich a batch of raw messages; pure, no I/O, the heart of the ingest agent."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
import orjson

from geo.catalogue import Catalogue
from geo.lookup import crossing_route, locate
from schemas.codec import encode_obj, json_fragment
from schemas.events import ReportKind
from schemas.keys import report_identity
from schemas.limits import DEFAULT_LIMITS, MAX_MESSAGE_BYTES, ReportLimits
from schemas.rejection import DeadLetter, Rejected, RejectReason
from schemas.reports import InterceptionReport, Report, VesselReport
from schemas.validate import validate_report

_log = logging.getLogger(__name__)
_MAX_ERROR_TEXT = 200


class RawMessage(NamedTuple):
    """One message as read from an input topic.

    A NamedTuple: one is built per message, at half the cost of a frozen dataclass.
    """

    topic: str
    partition: int
    offset: int
    value: bytes | None
    kind: ReportKind
    published_at: datetime | None = None


class Source(NamedTuple):
    """Where a message was read: its identity in the log."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Enriched:
    """An accepted report on its way to the sink.

    A plain slotted record rather than the pydantic `EnrichedEvent`: building
    one pydantic model per report was a third of the worker's CPU. `to_wire`
    gives exactly the JSON that `EnrichedEvent` describes (a unit test checks).
    """

    kind: ReportKind
    report: Report
    raw: bytes
    crossing_id: str
    country: str
    route: str
    received_at: datetime
    published_at: datetime | None
    source: Source
    key: str = field(init=False)
    """Partition key: vessel identity for vessels, authority and report id otherwise.

    Either way, every copy of one report lands on the same partition. Worked out once here:
    the sink's columns, the detect batches and the enriched messages all read it.
    """

    def __post_init__(self) -> None:
        report = self.report
        key = report.vessel_key if isinstance(report, VesselReport) else self.event_id
        object.__setattr__(self, "key", key)  # a frozen dataclass sets its derived fields this way

    @property
    def identity(self) -> tuple[str, str]:
        """(authority, report_id): the same pair is the same report, however often it arrives."""
        return (self.report.authority, self.report.report_id)

    @property
    def event_id(self) -> str:
        """`authority:report_id`, the report's identity as one string."""
        return report_identity(self.report.authority, self.report.report_id)

    def to_wire(self, with_notes: bool = False) -> bytes:
        """The `events.enriched` message: the report as received, plus where it falls.

        A report's free-text `notes` stay out unless `with_notes` (BORDERWATCH_SHARE_NOTES):
        they may name people, and `events.enriched` goes to other systems.
        """
        # Only interceptions have notes (asking a vessel report for them takes pydantic's slow miss path).
        has_notes = isinstance(self.report, InterceptionReport) and self.report.notes is not None
        source = self.source
        event = {
            "kind": self.kind.value,
            "report": without_notes(self.raw) if has_notes and not with_notes else json_fragment(self.raw),
            "crossing_id": self.crossing_id,
            "country": self.country,
            "route": self.route,
            "received_at": self.received_at,
            "source": {"topic": source.topic, "partition": source.partition, "offset": source.offset},
        }
        if self.published_at is not None:
            event["published_at"] = self.published_at
        return encode_obj(event)


def without_notes(raw: bytes) -> dict[str, Any]:
    """A validated report's JSON object without its `notes` (validation refused duplicate keys)."""
    report = orjson.loads(raw)
    report.pop("notes", None)
    return dict(report)


@dataclass
class BatchResult:
    """What one batch became: accepted events and dead letters, in input order."""

    events: list[Enriched] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def process_batch(
    messages: list[RawMessage],
    catalogue: Catalogue,
    now: datetime,
    max_bytes: int = MAX_MESSAGE_BYTES,
    limits: ReportLimits = DEFAULT_LIMITS,
) -> BatchResult:
    """Validate every message, then locate all accepted positions in one vectorised lookup.

    Never raises for one message: a fault while handling it (a bug, not bad
    input) dead-letters that message as `internal_error` and the rest go on.
    """
    result = BatchResult()
    dead: list[tuple[int, DeadLetter]] = []
    accepted: list[tuple[int, RawMessage, Report]] = []
    crossing_ids = catalogue.crossing_ids
    for index, message in enumerate(messages):
        try:
            outcome = validate_report(message.value, message.kind, now, crossing_ids, max_bytes, limits)
        except Exception as error:
            outcome = _internal_error(message, error)
        if isinstance(outcome, Rejected):
            dead.append((index, _dead_letter(outcome, message, now)))
        else:
            accepted.append((index, message, outcome))
    places = _locate_each(catalogue, [report for _, _, report in accepted])
    for (index, message, report), place in zip(accepted, places):
        try:
            result.events.append(_enriched(catalogue, message, report, place, now))
        except Exception as error:
            dead.append((index, _dead_letter(_internal_error(message, error), message, now)))
    dead.sort(key=lambda pair: pair[0])  # stable, and already in order unless enrichment failed
    result.dead_letters = [letter for _, letter in dead]
    return result


Place = tuple[str, str, str]
"""(crossing_id, country, route) of a position."""


def _locate_each(catalogue: Catalogue, reports: list[Report]) -> list[Place | Exception]:
    """One vectorised lookup; if it fails, each position on its own, so a fault stays with its report."""
    if not reports:
        return []
    lon = np.array([r.lon if r.lon is not None else np.nan for r in reports])
    lat = np.array([r.lat if r.lat is not None else np.nan for r in reports])
    try:
        found = locate(catalogue, lon, lat)
        # Object arrays of str: tolist hands back the labels themselves, without indexing element by element.
        return list(zip(found.crossing_id.tolist(), found.country.tolist(), found.route.tolist()))
    except Exception:
        _log.warning("locate failed for %d reports; locating one by one", len(reports), exc_info=True)
    places: list[Place | Exception] = []
    for i in range(len(reports)):
        try:
            one = locate(catalogue, lon[i : i + 1], lat[i : i + 1])
            places.append((str(one.crossing_id[0]), str(one.country[0]), str(one.route[0])))
        except Exception as error:
            places.append(error)
    return places


def _enriched(
    catalogue: Catalogue, message: RawMessage, report: Report, place: Place | Exception, now: datetime
) -> Enriched:
    """The accepted report with where it falls; raises the lookup's fault if it needs the position."""
    if report.lat is None and isinstance(report, InterceptionReport) and report.crossing_id:
        # No position: the producer's crossing hint places the report.
        crossing_id = report.crossing_id
        country, route = crossing_route(catalogue, crossing_id)
    elif isinstance(place, Exception):
        raise place
    else:
        crossing_id, country, route = place
    return Enriched(
        kind=message.kind,
        report=report,
        raw=message.value or b"",
        crossing_id=crossing_id,
        country=country,
        route=route,
        received_at=now,
        published_at=message.published_at,
        source=Source(message.topic, message.partition, message.offset),
    )


def _internal_error(message: RawMessage, error: Exception) -> Rejected:
    """The rejection of a message whose handling raised: a fault, logged with its traceback."""
    _log.error(
        "internal error handling %s[%d]@%d",
        message.topic,
        message.partition,
        message.offset,
        exc_info=error,
    )
    try:
        text = f"{type(error).__name__}: {error}"
    except Exception:  # an exception whose str() itself fails must not escape either
        text = f"{type(error).__name__}: <unprintable>"
    return Rejected(
        reason=RejectReason.INTERNAL_ERROR,
        detail=text if len(text) <= _MAX_ERROR_TEXT else text[: _MAX_ERROR_TEXT - 1] + "…",
    )


def _dead_letter(rejected: Rejected, message: RawMessage, now: datetime) -> DeadLetter:
    return DeadLetter.of(
        rejected, message.value or b"", message.topic, message.partition, message.offset, now
    )


def first_copies(events: list[Enriched]) -> list[Enriched]:
    """Drop later copies of the same (authority, report_id) within one batch."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for event in events:
        identity = (event.report.authority, event.report.report_id)
        if identity not in seen:
            seen.add(identity)
            unique.append(event)
    return unique
