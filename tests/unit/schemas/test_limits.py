"""Report limits: domain maxima and the accepted time range, as settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from pydantic import ValidationError

from schemas import InterceptionReport, Rejected, RejectReason, ReportKind, ReportLimits, VesselReport
from schemas.limits import DEFAULT_LIMITS
from schemas.validate import validate_report
from streams.config.settings import Settings

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
BASE = {"report_id": "GC-1", "authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z",
        "incident_type": "irregular_crossing_attempt", "persons": 42,
        "lat": 35.889, "lon": -5.317}  # fmt: skip
VESSEL = {"report_id": "V-1", "authority": "EMSA", "source": "ais",
          "observed_at": "2026-11-22T03:00:00Z", "lat": 36.0, "lon": -5.5, "mmsi": 224000001}  # fmt: skip


def outcome_of(
    changes: dict[str, object],
    limits: ReportLimits = DEFAULT_LIMITS,
    kind: ReportKind = ReportKind.INTERCEPTION,
) -> InterceptionReport | VesselReport | Rejected:
    base = BASE if kind is ReportKind.INTERCEPTION else VESSEL
    raw = orjson.dumps({**base, **changes})
    return validate_report(raw, kind, NOW, {"ES-CEUTA-LAND"}, limits=limits)


def check(
    *, limits: ReportLimits = DEFAULT_LIMITS, kind: ReportKind = ReportKind.INTERCEPTION, **changes: object
) -> InterceptionReport | VesselReport | Rejected:
    return outcome_of(changes, limits, kind)


def rejected(outcome: object) -> tuple[RejectReason, str]:
    assert isinstance(outcome, Rejected), outcome
    return outcome.reason, outcome.field


def test_defaults_are_documented_and_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = ReportLimits()
    assert (limits.max_persons, limits.max_breakdown_count, limits.max_facilitators_arrested) == (
        100_000,
        100_000,
        1_000,
    )
    assert limits.max_seizure_kg == 1_000_000.0
    assert limits.earliest_at == datetime(2000, 1, 1, tzinfo=UTC)
    assert limits.future_tolerance == timedelta(minutes=5)
    assert all(field.description for field in ReportLimits.model_fields.values())
    monkeypatch.setenv("BORDERWATCH_LIMITS__MAX_PERSONS", "500")
    monkeypatch.setenv("BORDERWATCH_LIMITS__EARLIEST_AT", "2010-01-01T00:00:00Z")
    settings = Settings()
    assert settings.limits.max_persons == 500
    assert settings.limits.earliest_at == datetime(2010, 1, 1, tzinfo=UTC)
    assert Settings.model_fields["limits"].description


@pytest.mark.parametrize(
    "bad", [{"max_persons": 2**32}, {"max_persons": 0}, {"earliest_at": "1969-12-31T23:59:59Z"},
            {"max_seizure_kg": float("inf")}, {"future_tolerance_s": -1}],
)  # fmt: skip
def test_a_limit_beyond_what_the_columns_hold_is_a_settings_error(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ReportLimits.model_validate(bad)


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"persons": 100_001}, "persons", "100001"),
        ({"persons": 2**31}, "persons", "2147483648"),
        ({"persons": 2**32 - 1}, "persons", "4294967295"),
        ({"persons_detail": {"minors": 100_001}}, "persons_detail.minors", "100001"),
        ({"persons_detail": {"women": 100_001}}, "persons_detail.women", "100001"),
        ({"persons_detail": {"nationalities": {"MA": 1, "GN": 3_000_000}}}, "persons_detail.nationalities.GN",
         "3000000"),
        ({"facilitators_arrested": 1_001}, "facilitators_arrested", "1001"),
        ({"seizure": {"kind": "cannabis", "kg": 1_000_000.5}}, "seizure.kg", "1000000.5"),
        ({"seizure": {"kind": "cannabis", "kg": 1e300}}, "seizure.kg", "1e+300"),
    ],
)  # fmt: skip
def test_a_value_over_its_domain_maximum_is_implausible(
    changes: dict[str, object], field: str, value: str
) -> None:
    outcome = outcome_of(changes)
    assert rejected(outcome) == (RejectReason.IMPLAUSIBLE_VALUE, field)
    assert isinstance(outcome, Rejected) and value in outcome.detail


def test_the_maxima_themselves_are_accepted_and_settings_lower_them() -> None:
    detail = {"minors": 100_000, "women": 100_000, "nationalities": {"MA": 100_000}}
    at_max = check(persons=100_000, facilitators_arrested=1_000, seizure={"kind": "cannabis", "kg": 1e6},
                   persons_detail=detail)  # fmt: skip
    assert isinstance(at_max, InterceptionReport)
    strict = ReportLimits(max_persons=50, max_breakdown_count=10)
    assert isinstance(check(limits=strict, persons=50), InterceptionReport)
    assert rejected(check(limits=strict, persons=51)) == (RejectReason.IMPLAUSIBLE_VALUE, "persons")
    assert rejected(check(limits=strict, persons_detail={"nationalities": {"MA": 11}})) == (
        RejectReason.IMPLAUSIBLE_VALUE,
        "persons_detail.nationalities.MA",
    )


@pytest.mark.parametrize(
    "at",
    ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00-23:59",
     "1899-12-31T23:59:59Z", "1969-12-31T23:59:59Z", "1999-12-31T23:59:59.999Z", "2000-01-01T00:59:59+01:00"],
)  # fmt: skip
def test_a_timestamp_before_the_earliest_is_refused_without_raising(at: str) -> None:
    assert rejected(check(observed_at=at)) == (RejectReason.TIMESTAMP_TOO_EARLY, "observed_at")
    assert rejected(check(reported_at=at)) == (RejectReason.TIMESTAMP_TOO_EARLY, "reported_at")
    assert rejected(check(kind=ReportKind.VESSEL, observed_at=at)) == (
        RejectReason.TIMESTAMP_TOO_EARLY,
        "observed_at",
    )


def test_the_earliest_instant_is_accepted_and_settings_move_it() -> None:
    assert isinstance(check(observed_at="2000-01-01T00:00:00Z"), InterceptionReport)
    assert isinstance(check(observed_at="2000-01-01T01:00:00+01:00"), InterceptionReport)
    later = ReportLimits(earliest_at=datetime(2020, 1, 1, tzinfo=UTC))
    assert rejected(check(limits=later, observed_at="2019-12-31T23:59:59Z")) == (
        RejectReason.TIMESTAMP_TOO_EARLY,
        "observed_at",
    )


@pytest.mark.parametrize(
    "at",
    [(NOW + timedelta(minutes=5, seconds=1)).isoformat(), "9999-12-31T23:59:59-23:59",
     "9999-12-31T23:59:59Z"],
)  # fmt: skip
def test_a_timestamp_in_the_future_has_a_code_per_field(at: str) -> None:
    assert rejected(check(observed_at=at)) == (RejectReason.OBSERVED_IN_FUTURE, "observed_at")
    assert rejected(check(reported_at=at)) == (RejectReason.TIMESTAMP_IN_FUTURE, "reported_at")


def test_the_future_tolerance_is_a_setting() -> None:
    at_limit = (NOW + timedelta(minutes=5)).isoformat()
    assert isinstance(check(reported_at=at_limit), InterceptionReport)
    exact = ReportLimits(future_tolerance_s=0)
    assert isinstance(check(limits=exact, reported_at=NOW.isoformat()), InterceptionReport)
    outcome = check(limits=exact, reported_at=(NOW + timedelta(milliseconds=1)).isoformat())
    assert rejected(outcome) == (RejectReason.TIMESTAMP_IN_FUTURE, "reported_at")
