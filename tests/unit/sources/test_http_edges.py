"""Probe: the HTTP edge reads each report's authority as ingest will, a JSON body is one value, and a
request the centre's bucket can never hold is 413, not a 429 that never succeeds."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import orjson
import pytest

from geo.catalogue import load_catalogue
from schemas import ReportKind
from schemas.limits import ReportLimits
from schemas.rejection import RejectReason
from streams.sources.http import HttpIngest, authority_of, judge_lines, split_body
from streams.web.tokens import ApiRole, Caller

CATALOGUE = load_catalogue()
NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
CENTRE = Caller("ES-GC", frozenset({ApiRole.CENTRE}), rate_per_s=1.0)
GOOD = {"report_id": "a", "authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z", "lat": 35.5,
        "lon": 12.605, "incident_type": "irregular_crossing_attempt", "persons": 3}  # fmt: skip
TAIL = b'"report_id": "d", "observed_at": "2026-11-22T03:14:00Z", "crossing_id": "IT-LAMPEDUSA", ' \
       b'"incident_type": "other", "persons": 1}'  # fmt: skip
UNCERTAIN = [
    b'{"authority": "MA-NADOR", "authority": "ES-GC", ' + TAIL,  # orjson keeps the last, others the first
    b'{"authority": "ES-GC", "auth\\u006frity": "MA-NADOR", ' + TAIL,  # the same key, escaped
    b'{"authority": "ES-GC", "lat": NaN, "lon": 1.0, ' + TAIL,  # NaN: no JSON at all
    b'{"authority": "ES-GC", "persons_detail": {"minors": Infinity}, ' + TAIL,
    b'{"authority": "ES-GC", ' + TAIL[:-1],  # cut short
    b'{"authority": "ES-\xff", ' + TAIL,  # not UTF-8
    b'{"authority": "ES-GC\\ud800", ' + TAIL,  # a lone surrogate
    b'{"authority": ["ES-GC"], ' + TAIL,
    b'{' + TAIL,  # no authority
    b'[{"authority": "ES-GC"}]',
]


@pytest.mark.parametrize("line", UNCERTAIN)
def test_an_authority_that_cannot_be_read_for_certain_is_a_mismatch_and_never_sent(line: bytes) -> None:
    assert authority_of(line) is None
    judged = judge_lines([orjson.dumps(GOOD), line], "ES-GC", ReportKind.INTERCEPTION, NOW,
                         CATALOGUE.crossing_ids, 1 << 20, ReportLimits(), 0)  # fmt: skip
    assert judged.to_send == [orjson.dumps(GOOD)]
    assert [d.reason for d in judged.foreign] == [RejectReason.AUTHORITY_MISMATCH]
    assert judged.results[1]["reason"] == "authority_mismatch" and judged.foreign[0].raw == line


def test_an_authority_given_once_is_read_as_ingest_reads_it() -> None:
    assert authority_of(orjson.dumps(GOOD)) == "ES-GC"
    assert authority_of(b'{"notes": {"authority": "MA-NADOR"}, "authority": "ES-GC"}') == "ES-GC"


PRETTY = orjson.dumps({**GOOD, "persons_detail": {"minors": 1}}, option=orjson.OPT_INDENT_2)


def test_a_json_body_is_one_value_whatever_its_whitespace_and_ndjson_stays_by_line() -> None:
    assert b"\n" in PRETTY and split_body(b"\n" + PRETTY + b"\n", "application/json") == [PRETTY]
    assert len(split_body(PRETTY, "application/x-ndjson")) > 3  # NDJSON is by line, as documented
    ndjson = orjson.dumps(GOOD) + b"\n" + orjson.dumps({**GOOD, "report_id": "b"})
    assert isinstance(split_body(ndjson, "application/json"), str)  # told to send it as NDJSON


class Topics:
    """What the endpoint handed on, by topic."""

    def __init__(self) -> None:
        self.sent: dict[str, list[tuple[bytes, bytes]]] = {}

    async def publish(self, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
        self.sent.setdefault(topic, []).extend(messages)


def test_a_pretty_printed_report_is_accepted_as_one_report() -> None:
    topics = Topics()
    ingest = HttpIngest(CATALOGUE, 1 << 20, ReportLimits(), topics.publish)
    status, answer, _ = asyncio.run(ingest.receive(CENTRE, "", PRETTY, "application/json"))
    assert (status, answer["results"]) == (202, [{"line": 1, "result": "accepted"}])
    assert [value for _, value in topics.sent["reports.interceptions"]] == [PRETTY]


def test_more_reports_than_the_bucket_ever_holds_is_413_with_its_size_and_fewer_wait() -> None:
    topics = Topics()
    ingest = HttpIngest(CATALOGUE, 1 << 20, ReportLimits(), topics.publish)
    lines = [orjson.dumps({**GOOD, "report_id": f"r{n}"}) for n in range(61)]  # the bucket holds 60
    status, answer, headers = asyncio.run(ingest.receive(CENTRE, "", b"\n".join(lines)))
    assert (status, answer["bucket_size"], headers) == (413, 60, {}) and "at most 60" in answer["error"]
    assert topics.sent == {}
    assert asyncio.run(ingest.receive(CENTRE, "", b"\n".join(lines[:60])))[0] == 202
    assert asyncio.run(ingest.receive(CENTRE, "", lines[60]))[0] == 429  # that one only has to wait
