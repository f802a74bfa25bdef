"""Enrich stage: the enriched event published to `events.enriched` and sunk to ClickHouse."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, PrivateAttr

from schemas.reports import InterceptionReport, VesselReport


class ReportKind(StrEnum):
    """Which input topic a report came from."""

    INTERCEPTION = "interception"
    VESSEL = "vessel"


class SourceOffset(BaseModel):
    """Where a message was read: its identity in the log."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int


class EnrichedEvent(BaseModel):
    """An accepted report with the zones it falls in."""

    model_config = ConfigDict(frozen=True)

    kind: ReportKind
    report: InterceptionReport | VesselReport
    crossing_id: str = ""
    country: str = ""
    route: str = "other"
    received_at: AwareDatetime
    published_at: AwareDatetime | None = None
    source: SourceOffset
    _raw: bytes = PrivateAttr(default=b"")

    @property
    def raw(self) -> bytes:
        """The report's bytes exactly as the producer sent them (not part of the wire model)."""
        return self._raw

    def keep_raw(self, raw: bytes) -> EnrichedEvent:
        """Attach the bytes the report arrived as; returns self."""
        self._raw = raw
        return self

    @property
    def identity(self) -> tuple[str, str]:
        """(authority, report_id): the same pair is the same report, however often it arrives."""
        return (self.report.authority, self.report.report_id)

    @property
    def key(self) -> str:
        """Partition key: vessel identity for vessels, authority and report id otherwise.

        Either way, every copy of one report lands on the same partition.
        """
        if isinstance(self.report, VesselReport):
            return self.report.vessel_key
        return f"{self.report.authority}:{self.report.report_id}"
