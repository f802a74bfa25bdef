"""Detect stage: the alert a detector raises, as published to `alerts` and stored in ClickHouse."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class AlertKind(StrEnum):
    """What a detector saw; docs/detectors.md defines each."""

    SURGE = "surge"
    MASS_ATTEMPT = "mass_attempt"
    LARGE_BOAT = "large_boat"
    AIS_GAP = "ais_gap"
    LOITERING = "loitering"
    ENCOUNTER = "encounter"
    IMPLAUSIBLE_SPEED = "implausible_speed"
    GEOFENCE_ENTER = "geofence_enter"
    GEOFENCE_EXIT = "geofence_exit"
    GEOFENCE_CROSS = "geofence_cross"
    VESSEL_OF_INTEREST = "vessel_of_interest"


class Impact(StrEnum):
    """EUROSUR impact levels, lowest first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VERY_HIGH = "very_high"

    @property
    def rank(self) -> int:
        """0 for low up to 3 for very high, for 'at least' comparisons."""
        return _RANK[self]


_RANK = {impact: rank for rank, impact in enumerate(Impact)}


class AlertStatus(StrEnum):
    """Where an alert group is in its life."""

    NEW = "new"
    UPDATED = "updated"
    RESOLVED = "resolved"


class Alert(BaseModel):
    """One state of an alert group; `version` grows with every update of the same `id`.

    `notify` says whether coordination centres hear about this state: a repeat
    within the group's repeat interval updates the alert without notifying.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="stable id of the alert group (kind and zone or vessel)")
    version: int = Field(ge=1, description="1 when new, +1 per update or resolution")
    kind: AlertKind
    status: AlertStatus
    impact: Impact
    confidence: float = Field(ge=0.0, le=1.0)
    zone_id: str = Field("", description="crossing or zone id, '' when the alert is about a vessel at sea")
    route: str = ""
    window_start: AwareDatetime = Field(description="event time the condition began")
    window_end: AwareDatetime = Field(description="event time of the latest evidence")
    event_ids: list[str] = Field(default_factory=list, description="authority:report_id of the evidence")
    vessel_ids: list[str] = Field(default_factory=list)
    lat: float | None = None
    lon: float | None = None
    headline: str
    description: str
    notify: bool = True
    opened_at: AwareDatetime = Field(description="wall-clock time the first state was published")
    sent_at: AwareDatetime = Field(description="wall-clock time this state was published")
