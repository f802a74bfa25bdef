"""Validation: each rule gives its reason code and names the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from schemas import InterceptionReport, Rejected, RejectReason, ReportKind, VesselReport
from schemas.validate import validate_report

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
CROSSINGS = {"ES-CEUTA-LAND"}
CONTRACT_EXAMPLE = {
    "report_id": "GC-ALM-2026-000123", "authority": "ES-GC",
    "observed_at": "2026-11-22T03:14:00Z", "reported_at": "2026-11-22T03:40:00Z",
    "lat": 35.889, "lon": -5.317, "crossing_id": "ES-CEUTA-LAND",
    "incident_type": "irregular_crossing_attempt", "persons": 42,
    "persons_detail": {"minors": 5, "women": 3, "nationalities": {"MA": 30, "GN": 12}},
    "facilitators_arrested": 1, "boat_type": "rubber_dinghy",
    "seizure": {"kind": "cannabis", "kg": 1200.0}, "notes": "free text",
}  # fmt: skip
VESSEL = {"report_id": "V-1", "authority": "EMSA", "source": "ais",
          "observed_at": "2026-11-22T03:00:00+01:00", "lat": 36.0,
          "lon": -5.5, "mmsi": 224000001}  # fmt: skip


def check(
    raw: bytes, kind: ReportKind = ReportKind.INTERCEPTION
) -> InterceptionReport | VesselReport | Rejected:
    return validate_report(raw, kind, NOW, CROSSINGS)


def changed(**changes: object) -> bytes:
    return orjson.dumps({**CONTRACT_EXAMPLE, **changes})


def test_the_contract_example_is_accepted() -> None:
    report = check(orjson.dumps(CONTRACT_EXAMPLE))
    assert isinstance(report, InterceptionReport)
    assert report.persons_detail is not None and report.persons_detail.nationalities == {
        "MA": 30,
        "GN": 12,
    }


def test_a_vessel_report_is_accepted_and_keyed_by_mmsi() -> None:
    report = check(orjson.dumps(VESSEL), ReportKind.VESSEL)
    assert isinstance(report, VesselReport)
    assert report.vessel_key == "mmsi:224000001"
    no_mmsi = {**VESSEL, "mmsi": None, "imo": 9074729}
    report = check(orjson.dumps(no_mmsi), ReportKind.VESSEL)
    assert isinstance(report, VesselReport) and report.vessel_key == "imo:9074729"


@pytest.mark.parametrize(
    ("raw", "reason", "field"),
    [
        (b"", RejectReason.EMPTY_MESSAGE, ""),
        (b"not json", RejectReason.INVALID_JSON, ""),
        (b'"a string"', RejectReason.NOT_AN_OBJECT, ""),
        (changed(lat=90.0001), RejectReason.LAT_OUT_OF_RANGE, "lat"),
        (changed(lon=180.5), RejectReason.LON_OUT_OF_RANGE, "lon"),
        (changed().replace(b'"lon":-5.317', b'"lon":NaN'), RejectReason.NOT_FINITE, "lon"),
        (changed().replace(b'"lat":35.889', b'"lat":Infinity'), RejectReason.NOT_FINITE, "lat"),
        (changed(persons=-1), RejectReason.NEGATIVE_COUNT, "persons"),
        (changed(persons_detail={"minors": -2}), RejectReason.NEGATIVE_COUNT, "persons_detail.minors"),
        (changed(persons="42"), RejectReason.WRONG_TYPE, "persons"),
        (changed(lat="35.9"), RejectReason.WRONG_TYPE, "lat"),
        (changed(observed_at="2026-11-22T03:14:00"), RejectReason.TIMESTAMP_WITHOUT_OFFSET, "observed_at"),
        (changed(observed_at="yesterday"), RejectReason.INVALID_TIMESTAMP, "observed_at"),
        (changed(incident_type="smuggling"), RejectReason.UNKNOWN_INCIDENT_TYPE, "incident_type"),
        (changed(extra_key=1), RejectReason.UNKNOWN_FIELD, "extra_key"),
        (changed(crossing_id="XX-NOWHERE"), RejectReason.UNKNOWN_CROSSING, "crossing_id"),
        (changed(lat=None, lon=None, crossing_id=None), RejectReason.MISSING_LOCATION, ""),
        (changed(lon=None), RejectReason.MISSING_LOCATION, ""),
        (orjson.dumps({k: v for k, v in CONTRACT_EXAMPLE.items() if k != "persons"}),
         RejectReason.MISSING_FIELD, "persons"),
    ],
)  # fmt: skip
def test_each_rule_has_its_reason(raw: bytes, reason: RejectReason, field: str) -> None:
    outcome = check(raw)
    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == (reason, field)
    assert outcome.detail


def test_future_limit_is_five_minutes_after_receipt() -> None:
    at_limit = (NOW + timedelta(minutes=5)).isoformat()
    just_over = (NOW + timedelta(minutes=5, seconds=1)).isoformat()
    assert isinstance(check(changed(observed_at=at_limit)), InterceptionReport)
    outcome = check(changed(observed_at=just_over))
    assert isinstance(outcome, Rejected) and outcome.reason is RejectReason.OBSERVED_IN_FUTURE


def test_size_limit_is_one_mebibyte() -> None:
    base = changed(notes="")
    fits = changed(notes="x" * (1_048_576 - len(base)))
    assert len(fits) == 1_048_576
    at_limit = check(fits)  # refused for its long notes, but not for its size
    assert isinstance(at_limit, Rejected) and at_limit.reason is not RejectReason.TOO_LARGE
    outcome = check(changed(notes="x" * (1_048_577 - len(base))))
    assert isinstance(outcome, Rejected) and outcome.reason is RejectReason.TOO_LARGE


def test_vessel_without_identity_or_with_bad_source() -> None:
    no_identity = check(orjson.dumps({**VESSEL, "mmsi": None}), ReportKind.VESSEL)
    assert isinstance(no_identity, Rejected) and no_identity.reason is RejectReason.MISSING_IDENTITY
    bad_source = check(orjson.dumps({**VESSEL, "source": "rumour"}), ReportKind.VESSEL)
    assert isinstance(bad_source, Rejected) and bad_source.reason is RejectReason.UNKNOWN_SOURCE
