"""Enrich stage: the enriched event published to `events.enriched` and sunk to ClickHouse."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

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
