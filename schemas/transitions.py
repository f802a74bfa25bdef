"""Detect stage: a vessel's geofence transition, as published to `transitions` and stored in ClickHouse.

Transitions are data, not alerts: every enter, exit and cross is one record;
only a transition rule (streams/detect/transition_rules.py) turns one into an
alert finding.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from schemas.reports import Lat, Lon, no_control_characters

# An identifier as ingest accepted it (reports cap each at 200 characters), or '' when unknown.
Known = Annotated[str, Field(max_length=200), AfterValidator(no_control_characters)]


class Direction(StrEnum):
    """Which way a vessel's leg met the zone (Tile38's enter / exit / cross)."""

    ENTER = "enter"
    EXIT = "exit"
    CROSS = "cross"


class Transition(BaseModel):
    """One vessel entering, leaving or crossing one crossing zone, at the fix that showed it.

    The identity is (zone_id, vessel_key, event_id, direction): a replayed fix
    gives the same transition, which ClickHouse stores once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    vessel_key: Annotated[str, Field(min_length=1, max_length=220), AfterValidator(no_control_characters)]
    mmsi: Annotated[str, Field(pattern=r"^(\d{9})?$")] = ""
    imo: Annotated[str, Field(pattern=r"^(\d{7})?$")] = ""
    name: Known = ""
    callsign: Known = ""
    vessel_type: Known = ""
    zone_id: Annotated[Known, Field(min_length=1)]
    route: Known = ""
    direction: Direction
    observed_at: AwareDatetime = Field(description="event time of the fix that showed the transition")
    event_id: Annotated[str, Field(min_length=3, max_length=401), AfterValidator(no_control_characters)] = (
        Field(description="authority:report_id of that fix")
    )
    lat: Lat
    lon: Lon
    received_at: AwareDatetime | None = Field(None, description="when ingest received that fix")

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """What makes two records the same transition."""
        return (self.zone_id, self.vessel_key, self.event_id, self.direction.value)
