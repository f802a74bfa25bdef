"""Validate stage: the wire models of interception and vessel reports."""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from schemas.identity import vessel_track_key

UINT32_MAX = 2**32 - 1
"""The largest count a ClickHouse UInt32 column (persons, nationalities) holds."""

# Unicode categories an identifier must not contain: controls, format characters
# (zero-width, bidi marks), line and paragraph separators.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_TEXT_WHITESPACE = ("\n", "\r", "\t")


def _control_character_error(value: str, position: int) -> PydanticCustomError:
    return PydanticCustomError(
        "control_character",
        "control character {char} at position {position} is not allowed",
        {"char": repr(value[position]), "position": position},
    )


def no_control_characters(value: str) -> str:
    """Refuse identifiers holding a character of category Cc, Cf, Zl or Zp."""
    if value.isprintable():  # the fast path: printable excludes every such category
        return value
    for position, char in enumerate(value):
        if unicodedata.category(char) in _CONTROL_CATEGORIES:
            raise _control_character_error(value, position)
    return value


def no_control_characters_in_text(value: str) -> str:
    """Refuse free text holding a Cc control character other than newline, return and tab."""
    if value.isprintable():
        return value
    stripped = value
    for whitespace in _TEXT_WHITESPACE:
        stripped = stripped.replace(whitespace, "")
    if stripped.isprintable():
        return value
    for position, char in enumerate(value):
        if char not in _TEXT_WHITESPACE and unicodedata.category(char) == "Cc":
            raise _control_character_error(value, position)
    return value


Count = Annotated[int, Field(ge=0, le=UINT32_MAX, description="a count; fits a ClickHouse UInt32")]
Lat = Annotated[float, Field(ge=-90.0, le=90.0, description="WGS84 latitude, degrees")]
Lon = Annotated[float, Field(ge=-180.0, le=180.0, description="WGS84 longitude, degrees")]
Text = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(no_control_characters)]
FreeText = Annotated[str, Field(max_length=10_000), AfterValidator(no_control_characters_in_text)]


class IncidentType(StrEnum):
    """Incident types an interception report may carry."""

    IRREGULAR_CROSSING_ATTEMPT = "irregular_crossing_attempt"
    INTERCEPTION_AT_SEA = "interception_at_sea"
    SEARCH_AND_RESCUE = "search_and_rescue"
    MIGRANT_SMUGGLING = "migrant_smuggling"
    DRUG_TRAFFICKING = "drug_trafficking"
    FIREARMS_TRAFFICKING = "firearms_trafficking"
    DOCUMENT_FRAUD = "document_fraud"
    HUMAN_TRAFFICKING = "human_trafficking"
    GOODS_SMUGGLING = "goods_smuggling"
    OTHER = "other"


class VesselSource(StrEnum):
    """Sensors a vessel report may come from."""

    AIS = "ais"
    RADAR = "radar"
    PATROL = "patrol"
    AERIAL = "aerial"
    SATELLITE = "satellite"


class _Wire(BaseModel):
    # strict: "42" is not a number and 1 is not a string; extra keys are refused.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class PersonsDetail(_Wire):
    """Breakdown of the persons involved."""

    minors: Count | None = None
    women: Count | None = None
    nationalities: dict[Annotated[str, Field(pattern=r"^[A-Z]{2}$")], Count] | None = None


class Seizure(_Wire):
    """Goods seized during the incident."""

    kind: Text
    kg: Annotated[float, Field(ge=0.0, description="mass seized; a finite float64")] | None = None


class _Report(_Wire):
    report_id: Text
    authority: Text
    observed_at: AwareDatetime
    reported_at: AwareDatetime | None = None


class InterceptionReport(_Report):
    """An interception or incident reported by a border centre."""

    incident_type: IncidentType
    persons: Count
    lat: Lat | None = None
    lon: Lon | None = None
    crossing_id: Text | None = None
    persons_detail: PersonsDetail | None = None
    facilitators_arrested: Count | None = None
    boat_type: Text | None = None
    seizure: Seizure | None = None
    notes: FreeText | None = None

    @model_validator(mode="after")
    def _has_location(self) -> InterceptionReport:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon must be given together")
        if self.lat is None and self.crossing_id is None:
            raise ValueError("either lat/lon or crossing_id is required")
        return self


class VesselReport(_Report):
    """A position of a vessel from AIS, radar, patrol, aerial or satellite sources."""

    source: VesselSource
    lat: Lat
    lon: Lon
    mmsi: Annotated[int, Field(ge=0, le=999_999_999)] | None = None
    imo: Annotated[int, Field(ge=0, le=9_999_999)] | None = None
    track_id: Text | None = None
    name: Text | None = None
    callsign: Text | None = None
    flag: Annotated[str, Field(pattern=r"^[A-Z]{2,3}$")] | None = None
    sog: Annotated[float, Field(ge=0.0, le=102.3, description="speed over ground, knots")] | None = None
    cog: Annotated[float, Field(ge=0.0, lt=360.0, description="course over ground, degrees")] | None = None
    heading: Annotated[float, Field(ge=0.0, lt=360.0)] | None = None
    vessel_type: Text | None = None
    length_m: Annotated[float, Field(gt=0.0, le=500.0)] | None = None

    @model_validator(mode="after")
    def _has_identity(self) -> VesselReport:
        if self.mmsi is None and self.imo is None and self.track_id is None:
            raise ValueError("at least one identity (mmsi, imo, track_id) is required")
        return self

    @property
    def vessel_key(self) -> str:
        """The identity that keys this vessel's partition and track: MMSI, else IMO, else track id.

        Placeholder identities (MMSI 0, 999999999, out of the ITU ranges; IMO failing its
        check digit) key nothing: see schemas/identity.py.
        """
        return vessel_track_key(self.mmsi, self.imo, self.track_id, self.authority, self.report_id)


Report = InterceptionReport | VesselReport
