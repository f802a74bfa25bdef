"""Validate stage: why a report was refused, and the dead-letter record that carries it."""

from __future__ import annotations

import base64
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError


class RejectReason(StrEnum):
    """Stable codes for refused reports; producers and analysts match on these."""

    EMPTY_MESSAGE = "empty_message"
    TOO_LARGE = "too_large"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    NOT_FINITE = "not_finite"
    LAT_OUT_OF_RANGE = "lat_out_of_range"
    LON_OUT_OF_RANGE = "lon_out_of_range"
    NEGATIVE_COUNT = "negative_count"
    OUT_OF_RANGE = "out_of_range"
    IMPLAUSIBLE_VALUE = "implausible_value"
    TIMESTAMP_WITHOUT_OFFSET = "timestamp_without_offset"
    INVALID_TIMESTAMP = "invalid_timestamp"
    OBSERVED_IN_FUTURE = "observed_in_future"
    TIMESTAMP_IN_FUTURE = "timestamp_in_future"
    TIMESTAMP_TOO_EARLY = "timestamp_too_early"
    UNKNOWN_INCIDENT_TYPE = "unknown_incident_type"
    UNKNOWN_SOURCE = "unknown_source"
    MISSING_LOCATION = "missing_location"
    MISSING_IDENTITY = "missing_identity"
    UNKNOWN_CROSSING = "unknown_crossing"
    INVALID_VALUE = "invalid_value"
    DUPLICATE_KEY = "duplicate_key"
    CONTROL_CHARACTER = "control_character"
    INTERNAL_ERROR = "internal_error"
    UNDECODABLE_RECORD = "undecodable_record"
    UNDECODABLE_NMEA = "undecodable_nmea"
    AUTHORITY_MISMATCH = "authority_mismatch"
    BREAKDOWN_EXCEEDS_PERSONS = "breakdown_exceeds_persons"
    UNKNOWN_NATIONALITY = "unknown_nationality"


class Rejected(BaseModel):
    """A refused report: the reason, the field at fault and a sentence for the producer."""

    model_config = ConfigDict(frozen=True)

    reason: RejectReason
    field: str = ""
    detail: str


_COUNT_FIELDS = frozenset({"persons", "minors", "women", "facilitators_arrested", "nationalities", "kg"})
_RANGE_ERRORS = frozenset({"greater_than_equal", "less_than_equal", "greater_than", "less_than"})
_TYPE_ERRORS_SUFFIX = "_type"


def reason_from_validation_error(error: ValidationError) -> Rejected:
    """Map the first error of a pydantic ValidationError to one rejection reason."""
    first = error.errors(include_url=False)[0]
    kind: str = first["type"]
    loc = [str(part) for part in first["loc"]]
    field = ".".join(loc)
    leaf = loc[-1] if loc else ""
    detail = f"{field or 'message'}: {first['msg']}"
    if loc and "input" in first and kind != "missing":
        detail += f" (got {first['input']!r:.80})"
    return Rejected(reason=_reason_for(kind, leaf, loc, first["msg"]), field=field, detail=detail)


def _reason_for(kind: str, leaf: str, loc: list[str], msg: str) -> RejectReason:
    if kind == "json_invalid":
        return RejectReason.INVALID_JSON
    if kind in ("model_type", "model_attributes_type") and not loc:
        return RejectReason.NOT_AN_OBJECT
    if kind == "control_character":
        return RejectReason.CONTROL_CHARACTER
    if kind == "extra_forbidden":
        return RejectReason.UNKNOWN_FIELD
    if kind == "missing":
        return RejectReason.MISSING_FIELD
    if kind == "finite_number":
        return RejectReason.NOT_FINITE
    if kind == "timezone_aware":
        return RejectReason.TIMESTAMP_WITHOUT_OFFSET
    if kind.startswith("datetime"):
        return RejectReason.INVALID_TIMESTAMP
    if kind == "enum" and leaf == "incident_type":
        return RejectReason.UNKNOWN_INCIDENT_TYPE
    if kind == "enum" and leaf == "source":
        return RejectReason.UNKNOWN_SOURCE
    if kind in _RANGE_ERRORS:
        if leaf == "lat":
            return RejectReason.LAT_OUT_OF_RANGE
        if leaf == "lon":
            return RejectReason.LON_OUT_OF_RANGE
        is_count = leaf in _COUNT_FIELDS or (len(loc) > 1 and loc[-2] == "nationalities")
        if is_count and kind == "greater_than_equal":
            return RejectReason.NEGATIVE_COUNT
        return RejectReason.OUT_OF_RANGE
    if kind.endswith(_TYPE_ERRORS_SUFFIX) or kind in ("literal_error", "enum"):
        return RejectReason.WRONG_TYPE
    if kind == "value_error" and "identity" in msg:
        return RejectReason.MISSING_IDENTITY
    if kind == "value_error" and ("crossing_id" in msg or "lat and lon" in msg):
        return RejectReason.MISSING_LOCATION
    return RejectReason.INVALID_VALUE


class DeadLetter(BaseModel):
    """What the `dlq` topic and the `rejects` table hold for each refused message."""

    model_config = ConfigDict(frozen=True)

    reason: RejectReason
    field: str = ""
    detail: str
    source_topic: str
    source_partition: int
    source_offset: int
    received_at: AwareDatetime
    raw_b64: str = Field(description="the message value exactly as received, base64")

    @classmethod
    def of(
        cls,
        rejected: Rejected,
        raw: bytes,
        topic: str,
        partition: int,
        offset: int,
        received_at: datetime,
    ) -> DeadLetter:
        """Build the dead-letter record of one refused message."""
        return cls(
            reason=rejected.reason,
            field=rejected.field,
            detail=rejected.detail,
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            received_at=received_at,
            raw_b64=base64.b64encode(raw).decode("ascii"),
        )

    @property
    def raw(self) -> bytes:
        """The original message bytes."""
        return base64.b64decode(self.raw_b64)
