"""Wire models of borderwatch: reports, enriched events, dead letters."""

from schemas.events import EnrichedEvent, ReportKind, SourceOffset
from schemas.rejection import DeadLetter, Rejected, RejectReason
from schemas.reports import IncidentType, InterceptionReport, Report, VesselReport, VesselSource
from schemas.validate import validate_report

__all__ = [
    "DeadLetter",
    "EnrichedEvent",
    "IncidentType",
    "InterceptionReport",
    "RejectReason",
    "Rejected",
    "Report",
    "ReportKind",
    "SourceOffset",
    "VesselReport",
    "VesselSource",
    "validate_report",
]
