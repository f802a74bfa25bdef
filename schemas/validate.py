"""Validate stage: raw message bytes to a report model, or a rejection naming field and rule."""

from __future__ import annotations

from collections.abc import Container
from datetime import datetime, timedelta

from pydantic import ValidationError

from schemas.events import ReportKind
from schemas.rejection import Rejected, RejectReason, reason_from_validation_error
from schemas.reports import InterceptionReport, Report, VesselReport

MAX_MESSAGE_BYTES = 1_048_576
FUTURE_TOLERANCE = timedelta(minutes=5)

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
    future_tolerance: timedelta = FUTURE_TOLERANCE,
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
    if report.observed_at > now + future_tolerance:
        return Rejected(
            reason=RejectReason.OBSERVED_IN_FUTURE,
            field="observed_at",
            detail=(
                f"observed_at {report.observed_at.isoformat()!r} is more than "
                f"{future_tolerance} after the time of receipt {now.isoformat()!r}"
            ),
        )
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
    return report
