"""Probe: an interception report agrees with itself: its breakdown within its persons, real countries."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from schemas import InterceptionReport, Rejected, RejectReason, ReportKind
from schemas.consistency import NATIONALITY_CODES
from schemas.validate import validate_report

NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
BASE = {
    "report_id": "GC-ALM-2026-000123", "authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z",
    "crossing_id": "ES-CEUTA-LAND", "incident_type": "irregular_crossing_attempt", "persons": 42,
}  # fmt: skip


def check(persons: int, **detail: object) -> InterceptionReport | Rejected:
    raw = orjson.dumps({**BASE, "persons": persons, "persons_detail": detail})
    outcome = validate_report(raw, ReportKind.INTERCEPTION, NOW, {"ES-CEUTA-LAND"})
    assert not isinstance(outcome, Rejected) or outcome.reason != RejectReason.INTERNAL_ERROR
    return outcome  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("detail", "field"),
    [
        ({"minors": 100_000}, "persons_detail.minors"),
        ({"women": 2}, "persons_detail.women"),
        ({"nationalities": {"MA": 1, "GN": 1}}, "persons_detail.nationalities"),
    ],
)
def test_a_breakdown_larger_than_the_persons_is_refused_with_its_own_reason(
    detail: dict[str, object], field: str
) -> None:
    outcome = check(1, **detail)
    assert isinstance(outcome, Rejected), outcome
    assert (outcome.reason, outcome.field) == (RejectReason.BREAKDOWN_EXCEEDS_PERSONS, field)
    assert RejectReason.BREAKDOWN_EXCEEDS_PERSONS.value == "breakdown_exceeds_persons"


def test_a_breakdown_up_to_the_persons_is_accepted_each_part_on_its_own() -> None:
    # Minors and women overlap (a girl is both), so only each on its own is bounded.
    outcome = check(42, minors=42, women=42, nationalities={"MA": 30, "GN": 12})
    assert isinstance(outcome, InterceptionReport)
    assert isinstance(check(42, nationalities={"MA": 3}), InterceptionReport)  # the rest unknown


@pytest.mark.parametrize("code", ["XX", "ZZ", "UK", "EU", "AA"])
def test_a_nationality_that_is_no_iso_3166_country_is_refused_as_unknown_nationality(code: str) -> None:
    outcome = check(42, nationalities={"MA": 1, code: 1})
    assert isinstance(outcome, Rejected), code
    assert outcome.reason == RejectReason.UNKNOWN_NATIONALITY == "unknown_nationality"
    assert outcome.field == f"persons_detail.nationalities.{code}"


def test_real_countries_and_kosovo_are_accepted() -> None:
    for code in ("MA", "GN", "SY", "AF", "GB", "XK", "SS", "PS"):
        assert isinstance(check(42, nationalities={code: 1}), InterceptionReport), code
    assert len(NATIONALITY_CODES) == 250  # 249 ISO 3166-1 countries and XK


def test_the_unknown_country_is_named_before_the_sum_is_compared() -> None:
    outcome = check(1, nationalities={"QQ": 5})
    assert isinstance(outcome, Rejected) and outcome.reason == RejectReason.UNKNOWN_NATIONALITY
