"""Wire models of borderwatch: reports, enriched events, dead letters, alerts."""

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from schemas.events import EnrichedEvent, ReportKind, SourceOffset
from schemas.limits import ReportLimits
from schemas.rejection import DeadLetter, Rejected, RejectReason
from schemas.reports import IncidentType, InterceptionReport, Report, VesselReport, VesselSource
from schemas.validate import validate_report

__all__ = [
    "Alert",
    "AlertKind",
    "AlertStatus",
    "DeadLetter",
    "EnrichedEvent",
    "Impact",
    "IncidentType",
    "InterceptionReport",
    "RejectReason",
    "Rejected",
    "Report",
    "ReportKind",
    "ReportLimits",
    "SourceOffset",
    "VesselReport",
    "VesselSource",
    "validate_report",
]
