"""The events.validated handoff: an accepted report goes across unchanged; anything else is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from geo.catalogue import builtin_path, load_catalogue
from schemas.events import ReportKind
from schemas.limits import ReportLimits
from streams.stages.enrich import RawMessage, process_batch
from streams.stages.handoff import decode_validated, encode_validated

CATALOGUE = load_catalogue(builtin_path())
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
RAW = orjson.dumps({
    "report_id": "IT-GDF-1", "authority": "IT-GDF", "observed_at": "2026-12-02T10:00:00Z",
    "lat": 35.5, "lon": 12.6, "persons": 40, "incident_type": "irregular_crossing_attempt",
})  # fmt: skip


def accepted() -> object:
    message = RawMessage("reports.interceptions", 1, 7, RAW, ReportKind.INTERCEPTION, NOW)
    (event,) = process_batch([message], CATALOGUE, NOW).events
    return event


def test_an_accepted_report_crosses_the_handoff_unchanged() -> None:
    event = accepted()
    back = decode_validated(encode_validated(event), CATALOGUE, 1 << 20, ReportLimits())  # type: ignore[arg-type]
    assert back == event and back.raw == RAW


@pytest.mark.parametrize(
    "change",
    [
        lambda r: b"\xff not json",
        lambda r: b"[]",
        lambda r: orjson.dumps({**orjson.loads(r), "kind": "spaceship"}),
        lambda r: orjson.dumps({**orjson.loads(r), "received_at": "2026-12-02T12:00:00"}),
        lambda r: orjson.dumps({**orjson.loads(r), "crossing_id": "XX-NOWHERE"}),
        lambda r: orjson.dumps({**orjson.loads(r), "source": ["t", "p"]}),
        lambda r: orjson.dumps({**orjson.loads(r), "raw": '{"report_id": 1}'}),
        lambda r: orjson.dumps({k: v for k, v in orjson.loads(r).items() if k != "raw"}),
    ],
)
def test_a_record_that_is_not_an_accepted_report_is_refused_with_a_reason(change: object) -> None:
    value = change(encode_validated(accepted()))  # type: ignore[operator, arg-type]
    with pytest.raises(ValueError, match=r"\S"):
        decode_validated(value, CATALOGUE, 1 << 20, ReportLimits())
