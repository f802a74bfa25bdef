"""Validate stage: raw message bytes to a report model, or a rejection naming field and rule."""

from __future__ import annotations

import json
from collections.abc import Container
from datetime import datetime
from typing import Any

import jiter
from pydantic import ValidationError

from schemas.consistency import inconsistent_report
from schemas.events import ReportKind
from schemas.limits import DEFAULT_LIMITS, MAX_MESSAGE_BYTES, ReportLimits
from schemas.rejection import Rejected, RejectReason, reason_from_validation_error
from schemas.reports import InterceptionReport, Report, VesselReport

__all__ = ["MAX_MESSAGE_BYTES", "duplicate_key", "validate_report"]

_MODELS: dict[ReportKind, type[InterceptionReport] | type[VesselReport]] = {
    ReportKind.INTERCEPTION: InterceptionReport,
    ReportKind.VESSEL: VesselReport,
}


def validate_report(
    raw: bytes | None,
    kind: ReportKind,
    now: datetime,
    known_crossings: Container[str],
    max_bytes: int = MAX_MESSAGE_BYTES,
    limits: ReportLimits = DEFAULT_LIMITS,
) -> Report | Rejected:
    """Parse and check one message; bad input is returned as a `Rejected`, never raised."""
    if not raw:
        return Rejected(reason=RejectReason.EMPTY_MESSAGE, detail="message has no bytes")
    if len(raw) > max_bytes:
        return Rejected(
            reason=RejectReason.TOO_LARGE,
            detail=f"message is {len(raw)} bytes, the limit is {max_bytes}",
        )
    try:
        report = _MODELS[kind].model_validate_json(raw)
    except ValidationError as error:
        return reason_from_validation_error(error)
    rejected = (
        duplicate_key(raw)
        or _out_of_time_range(report, now, limits)
        or _implausible_value(report, limits)
        or (inconsistent_report(report) if isinstance(report, InterceptionReport) else None)
        or _unknown_crossing(report, known_crossings)
    )
    return rejected or report


def duplicate_key(raw: bytes) -> Rejected | None:
    """Refuse JSON that repeats a key in any object: the model keeps the last, the raw shows both.

    Meant for messages that pydantic already accepted. jiter (pydantic's own
    parser, standalone) finds a repeated key in one pass; the path of the
    first one is looked for only then.
    """
    try:
        jiter.from_json(raw, catch_duplicate_keys=True, cache_mode=False)
    except ValueError as error:
        if not str(error).startswith(_JITER_DUPLICATE):
            return _invalid_json(error)
        try:
            path = _first_duplicate(json.loads(raw, object_pairs_hook=_Pairs))
        except (ValueError, RecursionError) as stdlib_error:
            return _invalid_json(stdlib_error)
        return Rejected(
            reason=RejectReason.DUPLICATE_KEY,
            field=path,
            detail=f"key {path!r} appears more than once; each key may be given once",
        )
    except RecursionError as error:
        return _invalid_json(error)
    return None


_JITER_DUPLICATE = "Detected duplicate key"


def _invalid_json(error: Exception) -> Rejected:
    return Rejected(
        reason=RejectReason.INVALID_JSON,
        detail=f"message cannot be read as strict JSON: {type(error).__name__}: {error!s:.120}",
    )


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its key/value pairs in document order, duplicates kept."""


def _first_duplicate(node: Any, path: str = "") -> str:
    if isinstance(node, _Pairs):
        seen: set[str] = set()
        for key, value in node:
            dotted = f"{path}.{key}" if path else key
            if key in seen:
                return dotted
            seen.add(key)
            if found := _first_duplicate(value, dotted):
                return found
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if found := _first_duplicate(item, f"{path}.{index}" if path else str(index)):
                return found
    return ""


def _out_of_time_range(report: Report, now: datetime, limits: ReportLimits) -> Rejected | None:
    # Compared as POSIX seconds: each aware datetime's offset read once, not at every comparison.
    # timestamp() subtracts the epoch without converting to UTC, so year 1 or 9999 with any offset
    # cannot overflow here (astimezone would).
    earliest, latest = limits.earliest_at.timestamp(), now.timestamp() + limits.future_tolerance_s
    observed, reported = report.observed_at, report.reported_at
    observed_s = observed.timestamp()
    if observed_s < earliest:
        return _too_early("observed_at", observed, limits)
    if observed_s > latest:
        return _in_future("observed_at", observed, now, limits, RejectReason.OBSERVED_IN_FUTURE)
    if reported is None:
        return None
    reported_s = reported.timestamp()
    if reported_s < earliest:
        return _too_early("reported_at", reported, limits)
    if reported_s > latest:
        return _in_future("reported_at", reported, now, limits, RejectReason.TIMESTAMP_IN_FUTURE)
    return None


def _too_early(name: str, at: datetime, limits: ReportLimits) -> Rejected:
    return Rejected(
        reason=RejectReason.TIMESTAMP_TOO_EARLY,
        field=name,
        detail=f"{name} {at.isoformat()!r} is before the earliest accepted "
        f"{limits.earliest_at.isoformat()!r}",
    )


def _in_future(
    name: str, at: datetime, now: datetime, limits: ReportLimits, reason: RejectReason
) -> Rejected:
    return Rejected(
        reason=reason,
        field=name,
        detail=f"{name} {at.isoformat()!r} is more than {limits.future_tolerance} "
        f"after the time of receipt {now.isoformat()!r}",
    )


def _implausible_value(report: Report, limits: ReportLimits) -> Rejected | None:
    # Plain comparisons first: this runs for every report, a rejection is rare.
    if not isinstance(report, InterceptionReport):
        return None  # every vessel field is bounded by its model
    if report.persons > limits.max_persons:
        return _implausible("persons", report.persons, limits.max_persons, "max_persons")
    arrested = report.facilitators_arrested
    if arrested is not None and arrested > limits.max_facilitators_arrested:
        most = limits.max_facilitators_arrested
        return _implausible("facilitators_arrested", arrested, most, "max_facilitators_arrested")
    detail = report.persons_detail
    if detail is not None:
        most = limits.max_breakdown_count
        counts = [("minors", detail.minors), ("women", detail.women)]
        counts += [(f"nationalities.{code}", n) for code, n in (detail.nationalities or {}).items()]
        for name, count in counts:
            if count is not None and count > most:
                return _implausible(f"persons_detail.{name}", count, most, "max_breakdown_count")
    kg = report.seizure.kg if report.seizure is not None else None
    if kg is not None and kg > limits.max_seizure_kg:
        return _implausible("seizure.kg", kg, limits.max_seizure_kg, "max_seizure_kg")
    return None


def _implausible(field: str, value: float, most: float, setting: str) -> Rejected:
    return Rejected(
        reason=RejectReason.IMPLAUSIBLE_VALUE,
        field=field,
        detail=f"{field} {value!r} is more than the plausible maximum {most!r} "
        f"(BORDERWATCH_LIMITS__{setting.upper()})",
    )


def _unknown_crossing(report: Report, known_crossings: Container[str]) -> Rejected | None:
    if (
        isinstance(report, InterceptionReport)
        and report.crossing_id is not None
        and report.crossing_id not in known_crossings
    ):
        return Rejected(
            reason=RejectReason.UNKNOWN_CROSSING,
            field="crossing_id",
            detail=f"crossing_id {report.crossing_id!r} is not in the geofence catalogue",
        )
    return None
