"""The sample reports shipped for centres validate as the worker validates them, and the docs show them
as they are shipped."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from geo import load_catalogue
from schemas import ReportKind
from schemas.reports import InterceptionReport, VesselReport
from schemas.validate import validate_report

EXAMPLES = Path(__file__).resolve().parents[3] / "streams" / "data" / "examples"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "centres" / "reports.md"


@pytest.mark.parametrize(
    ("name", "kind", "model"),
    [("interception.json", ReportKind.INTERCEPTION, InterceptionReport),
     ("vessel.json", ReportKind.VESSEL, VesselReport)],
)  # fmt: skip
def test_each_example_validates_and_is_shown_in_the_docs(name: str, kind: ReportKind, model: type) -> None:
    raw = (EXAMPLES / name).read_bytes()
    report = validate_report(raw, kind, datetime.now(UTC), load_catalogue().crossing_ids)
    assert isinstance(report, model), report
    assert f"```json\n{raw.decode().strip()}\n```" in DOCS.read_text()
    assert f"--data-binary @streams/data/examples/{name}" in DOCS.read_text()


def test_the_vessel_example_carries_every_field_and_the_interception_all_but_two() -> None:
    now = datetime.now(UTC)
    vessel = validate_report((EXAMPLES / "vessel.json").read_bytes(), ReportKind.VESSEL, now, ())
    assert isinstance(vessel, VesselReport)
    assert {k for k, v in vessel.model_dump().items() if v is None} == {"track_id"}  # the MMSI identifies it
    raw = (EXAMPLES / "interception.json").read_bytes()
    interception = validate_report(raw, ReportKind.INTERCEPTION, now, ())
    assert isinstance(interception, InterceptionReport)
    assert {k for k, v in interception.model_dump().items() if v is None} == {"crossing_id", "seizure"}
