"""Validation: each rule gives its reason code and names the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from schemas import InterceptionReport, Rejected, RejectReason, ReportKind, VesselReport
from schemas.validate import duplicate_key, validate_report

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


@pytest.mark.parametrize(
    ("field", "at", "reason"),
    [
        ("observed_at", "0001-01-01T00:00:00+14:00", RejectReason.TIMESTAMP_TOO_EARLY),
        ("observed_at", "9999-12-31T23:59:59-14:00", RejectReason.OBSERVED_IN_FUTURE),
        ("reported_at", "0001-01-01T00:00:00-14:00", RejectReason.TIMESTAMP_TOO_EARLY),
        ("reported_at", "9999-12-31T23:59:59+14:00", RejectReason.TIMESTAMP_IN_FUTURE),
    ],
)
def test_the_first_and_last_representable_times_with_any_offset_are_refused_not_raised(
    field: str, at: str, reason: RejectReason
) -> None:
    outcome = check(changed(**{field: at}))
    assert isinstance(outcome, Rejected) and (outcome.reason, outcome.field) == (reason, field)


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


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"persons": 10**30}, "persons"),  # orjson cannot encode it: the worker crashed forever
        ({"persons": 2**32 + 1}, "persons"),  # a UInt32 column would store 1
        ({"persons_detail": {"nationalities": {"MA": 1, "GN": 2**32 + 7}}},
         "persons_detail.nationalities.GN"),
        ({"persons_detail": {"minors": 2**32}}, "persons_detail.minors"),
        ({"persons_detail": {"women": 2**64}}, "persons_detail.women"),
        ({"facilitators_arrested": 10**30}, "facilitators_arrested"),
    ],
)  # fmt: skip
def test_a_count_a_uint32_cannot_hold_is_out_of_range(changes: dict[str, object], field: str) -> None:
    outcome = check(json.dumps({**CONTRACT_EXAMPLE, **changes}).encode())  # orjson cannot write 10**30
    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == (RejectReason.OUT_OF_RANGE, field)


def test_the_largest_uint32_count_is_representable() -> None:
    report = InterceptionReport.model_validate_json(changed(persons=2**32 - 1))
    assert report.persons == 2**32 - 1  # representable; the domain maximum refuses it (test_limits)


@pytest.mark.parametrize(
    ("raw", "kind", "field"),
    [
        (changed(report_id="GC-\x00-1"), ReportKind.INTERCEPTION, "report_id"),
        (changed(report_id="GC-1\n"), ReportKind.INTERCEPTION, "report_id"),
        (changed(authority="ES\u200bGC"), ReportKind.INTERCEPTION, "authority"),  # Cf: zero-width space
        (changed(crossing_id="ES-CEUTA-LAND\u2028"), ReportKind.INTERCEPTION, "crossing_id"),  # Zl
        (changed(boat_type="rubber\u2029dinghy"), ReportKind.INTERCEPTION, "boat_type"),  # Zp
        (changed(seizure={"kind": "canna\x7fbis"}), ReportKind.INTERCEPTION, "seizure.kind"),
        (changed(notes="free\x00text"), ReportKind.INTERCEPTION, "notes"),
        (changed(notes="bell\x07"), ReportKind.INTERCEPTION, "notes"),
        (orjson.dumps({**VESSEL, "track_id": "t\x1b1"}), ReportKind.VESSEL, "track_id"),
        (orjson.dumps({**VESSEL, "name": "SEA\u202eSTAR"}), ReportKind.VESSEL, "name"),  # Cf: bidi override
        (orjson.dumps({**VESSEL, "callsign": "EA\t1"}), ReportKind.VESSEL, "callsign"),
        (orjson.dumps({**VESSEL, "vessel_type": "\x85fishing"}), ReportKind.VESSEL, "vessel_type"),
    ],
)  # fmt: skip
def test_control_characters_are_refused_and_the_field_named(raw: bytes, kind: ReportKind, field: str) -> None:
    outcome = check(raw, kind)
    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == (RejectReason.CONTROL_CHARACTER, field)
    assert "control character" in outcome.detail and "position" in outcome.detail


def test_the_detail_shows_the_character_and_where_it_is() -> None:
    outcome = check(changed(report_id="GC-\x00-1"))
    assert isinstance(outcome, Rejected)
    assert outcome.detail.startswith("report_id: control character '\\x00' at position 3")


def test_notes_keep_line_breaks_and_tabs_and_identifiers_keep_ordinary_text() -> None:
    notes = "first line\r\nsecond\tline, 12\u00a0persons \U0001f468\u200d\U0001f469 (Cf in text is fine)"
    report = check(changed(notes=notes, report_id="GC-ALM-2026-000123 bis", boat_type="patera/cayuco"))
    assert isinstance(report, InterceptionReport)
    assert report.notes == notes
    flag = check(orjson.dumps({**VESSEL, "flag": "ES\x00"}), ReportKind.VESSEL)
    assert isinstance(flag, Rejected) and flag.field == "flag"  # the pattern already refuses it


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (changed(persons=42)[:-1] + b',"persons":7}', "persons"),
        (changed(persons_detail={"nationalities": {"MA": 30}}).replace(b'"MA":30', b'"MA":30,"MA":2'),
         "persons_detail.nationalities.MA"),
        (changed().replace(b'"kind":"cannabis"', b'"kind":"cannabis","kind":"cocaine"'), "seizure.kind"),
        (changed().replace(b'"minors":5', b'"minors":5,"minors":5'), "persons_detail.minors"),
    ],
)  # fmt: skip
def test_a_repeated_key_is_refused_at_any_depth(raw: bytes, field: str) -> None:
    assert InterceptionReport.model_validate_json(raw)  # pydantic alone keeps the last value
    outcome = check(raw)
    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == (RejectReason.DUPLICATE_KEY, field)
    assert repr(field) in outcome.detail


@pytest.mark.parametrize("raw", [b"[" * 200_000 + b"]" * 200_000, b'{"a": "\xff"}', b"\x00"])
def test_the_duplicate_key_check_does_not_raise_on_odd_input(raw: bytes) -> None:
    outcome = duplicate_key(raw)
    assert outcome is not None and outcome.reason is RejectReason.INVALID_JSON
    assert duplicate_key(orjson.dumps(CONTRACT_EXAMPLE)) is None
