"""Validate stage: the plausible range of a report, beyond what its model can represent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.reports import UINT32_MAX

MAX_MESSAGE_BYTES = 1_048_576
"""Larger messages are refused as `too_large` (Settings.max_message_bytes overrides it)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ReportLimits(BaseModel):
    """Domain maxima and the accepted time range; env vars are BORDERWATCH_LIMITS__<FIELD>.

    The model's own bounds keep every value representable (a count fits a
    ClickHouse UInt32); these limits refuse what is representable but not
    credible, as `implausible_value`, `timestamp_too_early` or a future code.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_persons: int = Field(
        100_000,
        ge=1,
        le=UINT32_MAX,
        description="most persons one report may count; the largest single events on record "
        "are about 10,000 persons over two days",
    )
    max_breakdown_count: int = Field(
        100_000,
        ge=1,
        le=UINT32_MAX,
        description="most minors, women, or persons of one nationality one report may count",
    )
    max_facilitators_arrested: int = Field(
        1_000,
        ge=1,
        le=UINT32_MAX,
        description="most facilitators one report may say were arrested (real events: a few dozen)",
    )
    max_seizure_kg: float = Field(
        1_000_000.0,
        gt=0,
        allow_inf_nan=False,
        description="most kilograms one seizure may weigh: 1,000 t, far above the largest drug "
        "seizures on record (tens of tonnes)",
    )
    earliest_at: AwareDatetime = Field(
        datetime(2000, 1, 1, tzinfo=UTC),
        ge=_EPOCH,
        description="observed_at and reported_at before this are refused as timestamp_too_early; "
        "not before 1970, where ClickHouse DateTime columns start",
    )
    future_tolerance_s: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description="seconds a timestamp may lie after the time of receipt (clock skew)",
    )

    @property
    def future_tolerance(self) -> timedelta:
        """`future_tolerance_s` as a timedelta."""
        return timedelta(seconds=self.future_tolerance_s)


DEFAULT_LIMITS = ReportLimits()
"""The limits `validate_report` and `process_batch` apply when given none."""
