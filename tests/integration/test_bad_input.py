"""Bad input lands in dlq and rejects with its reason and raw bytes; the worker keeps going."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from schemas.rejection import DeadLetter, RejectReason
from streams.kafka.topics import DLQ, INTERCEPTIONS, VESSELS
from tests.helpers.kafka_io import read_topic, send

GOOD = {
    "report_id": "GC-ALM-2026-000123", "authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z",
    "lat": 35.889, "lon": -5.317, "incident_type": "irregular_crossing_attempt", "persons": 42,
}  # fmt: skip


def variant(n: int, **changes: Any) -> bytes:
    return orjson.dumps({**GOOD, "report_id": f"BAD-{n}", **changes})


BAD_INTERCEPTIONS: list[tuple[bytes, RejectReason]] = [
    (b'{"report_id": "x", ', RejectReason.INVALID_JSON),
    (b"", RejectReason.EMPTY_MESSAGE),
    (b"[1, 2]", RejectReason.NOT_AN_OBJECT),
    (variant(1, persons="42"), RejectReason.WRONG_TYPE),
    (variant(2, lat=95.0), RejectReason.LAT_OUT_OF_RANGE),
    (variant(3, lon=-181.0), RejectReason.LON_OUT_OF_RANGE),
    (variant(4).replace(b'"lat":35.889', b'"lat":NaN'), RejectReason.NOT_FINITE),
    (variant(5, persons=-1), RejectReason.NEGATIVE_COUNT),
    (variant(6, observed_at="2026-11-22T03:14:00"), RejectReason.TIMESTAMP_WITHOUT_OFFSET),
    (variant(7, observed_at="2999-01-01T00:00:00Z"), RejectReason.OBSERVED_IN_FUTURE),
    (variant(8, incident_type="picnic"), RejectReason.UNKNOWN_INCIDENT_TYPE),
    (variant(9, colour="red"), RejectReason.UNKNOWN_FIELD),
    (variant(10, notes="x" * 1_100_000), RejectReason.TOO_LARGE),
]
BAD_VESSEL = (
    orjson.dumps({"report_id": "V-1", "authority": "EMSA", "source": "ais",
                  "observed_at": "2026-11-22T03:00:00Z", "lat": 36.0, "lon": -5.5}),
    RejectReason.MISSING_IDENTITY,
)  # fmt: skip


def test_bad_reports_go_to_dlq_and_rejects_and_nothing_is_lost(broker: Any, start_worker: Any) -> None:
    worker = start_worker()
    good = [orjson.dumps({**GOOD, "report_id": f"OK-{n}"}) for n in range(5)]
    lines = [line for line, _ in BAD_INTERCEPTIONS]
    sent = send(broker, INTERCEPTIONS, good[:2] + lines + good[2:])
    sent += send(broker, VESSELS, [BAD_VESSEL[0]])
    worker.wait_until(lambda s: s["events"] + s["rejects"] + s["duplicates"] >= sent)

    expected = {line: reason for line, reason in [*BAD_INTERCEPTIONS, BAD_VESSEL]}
    records = asyncio.run(read_topic(broker.url, DLQ, len(expected)))
    letters = [DeadLetter.model_validate_json(r.value) for r in records]
    assert {letter.raw: letter.reason for letter in letters} == expected
    assert all(letter.detail for letter in letters)
    stored = worker.sql(
        "SELECT reason, raw, source_topic FROM borderwatch.rejects FINAL ORDER BY source_offset"
    )
    assert sorted(row[0] for row in stored) == sorted(reason.value for reason in expected.values())
    status = worker.status()
    assert (status["events"], status["rejects"]) == (len(good), len(expected))
    assert sent == status["events"] + status["rejects"]

    # Still running and still accepting reports after all that.
    sent += send(broker, INTERCEPTIONS, [orjson.dumps({**GOOD, "report_id": "OK-after"})])
    assert worker.wait_until(lambda s: s["events"] == len(good) + 1)["rejects"] == len(expected)


# Each was accepted and altered (or crashed ingest for good) before the hardening issue.
ALTERED: list[tuple[bytes, RejectReason]] = [
    (variant(20).replace(b'"persons":42', b'"persons":' + str(10**30).encode()), RejectReason.OUT_OF_RANGE),
    (variant(21, persons=2**32 + 1), RejectReason.OUT_OF_RANGE),
    (variant(22, persons=2**31), RejectReason.IMPLAUSIBLE_VALUE),
    (variant(23, persons=100_001), RejectReason.IMPLAUSIBLE_VALUE),
    (variant(24, persons_detail={"nationalities": {"MA": 2**32 + 7}}), RejectReason.OUT_OF_RANGE),
    (variant(25, observed_at="0001-01-01T00:00:00Z"), RejectReason.TIMESTAMP_TOO_EARLY),
    (variant(26, observed_at="1899-12-31T23:00:00Z"), RejectReason.TIMESTAMP_TOO_EARLY),
    (variant(27, observed_at="1969-07-20T20:17:00Z"), RejectReason.TIMESTAMP_TOO_EARLY),
    (variant(28)[:-1] + b',"persons":500}', RejectReason.DUPLICATE_KEY),
    (orjson.dumps({**GOOD, "report_id": "BAD-\u0000-29"}), RejectReason.CONTROL_CHARACTER),
]


def test_a_poison_report_is_refused_and_ingest_goes_on(broker: Any, start_worker: Any) -> None:
    worker = start_worker()
    lines = [line for line, _ in ALTERED]
    good = [orjson.dumps({**GOOD, "report_id": f"OK-{n}"}) for n in range(3)]
    sent = send(broker, INTERCEPTIONS, lines + good)
    status = worker.wait_until(lambda s: s["events"] + s["rejects"] >= sent)
    assert (status["events"], status["rejects"]) == (len(good), len(ALTERED))
    stored = worker.sql("SELECT raw, reason FROM borderwatch.rejects FINAL")
    assert {raw.encode(): reason for raw, reason in stored} == {
        line: reason.value for line, reason in ALTERED
    }
    assert worker.sql("SELECT sum(persons) FROM borderwatch.crossing_counts") == [[42 * len(good)]]
    assert worker.sql("SELECT count() FROM borderwatch.alerts") == [[0]]
    assert worker.process.poll() is None
