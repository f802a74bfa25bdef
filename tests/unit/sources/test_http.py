"""HTTP ingest's logic: each line judged as ingest will, a foreign authority refused, the rate, the broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka.errors import KafkaConnectionError

from geo import load_catalogue
from schemas import ReportKind, ReportLimits
from schemas.rejection import DeadLetter, RejectReason
from streams.kafka.keys import message_key
from streams.kafka.topics import DLQ, INTERCEPTIONS
from streams.sources.http import HttpIngest, RateLimit, judge_lines, split_lines
from streams.web.tokens import ApiRole, Caller

CATALOGUE = load_catalogue()
NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
CENTRE = Caller("ES-GC", frozenset({ApiRole.CENTRE}), rate_per_s=1.0)
GOOD = {"authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z", "lat": 35.5, "lon": 12.605,
        "incident_type": "irregular_crossing_attempt", "persons": 3}  # fmt: skip


def line(**changes: object) -> bytes:
    return orjson.dumps({**GOOD, **changes})


def judge(lines: list[bytes]):  # type: ignore[no-untyped-def]
    return judge_lines(lines, "ES-GC", ReportKind.INTERCEPTION, NOW, CATALOGUE.crossing_ids, 1 << 20,
                       ReportLimits(), 1000)  # fmt: skip


def test_each_line_gets_its_result_and_every_own_line_goes_on_to_ingest() -> None:
    judged = judge([line(report_id="a"), line(report_id="b", persons=-1), line(report_id="c", persons="3")])
    assert [r["result"] for r in judged.results] == ["accepted", "rejected", "rejected"]
    assert judged.results[1]["reason"] == "negative_count" and judged.results[1]["field"] == "persons"
    assert judged.results[2]["reason"] == "wrong_type"
    assert (
        len(judged.to_send) == 3 and judged.foreign == []
    )  # ingest dead-letters the bad ones at their offsets


def test_a_line_naming_another_authority_is_a_dead_letter_with_its_raw_bytes_and_is_never_sent() -> None:
    foreign = line(report_id="x", authority="MA-NADOR")
    bad_and_foreign = line(report_id="y", authority="IT-LMP", persons=-1)
    judged = judge([line(report_id="a"), foreign, bad_and_foreign])
    assert judged.to_send == [line(report_id="a")]
    assert [d.reason for d in judged.foreign] == [RejectReason.AUTHORITY_MISMATCH] * 2
    assert judged.foreign[0].raw == foreign and judged.foreign[0].source_topic == "http:/reports"
    assert len({d.source_offset for d in judged.foreign}) == 2
    assert judged.results[1] == {"line": 2, "result": "rejected", "reason": "authority_mismatch",
                                 "field": "authority", "detail": judged.foreign[0].detail}  # fmt: skip


def test_blank_lines_and_a_crlf_body_split_into_their_reports() -> None:
    assert split_lines(b'{"a":1}\r\n\r\n  \n{"b":2}\n') == [b'{"a":1}', b'{"b":2}']
    assert split_lines(b"") == [] and split_lines(b"\n \n") == []


def test_the_rate_allows_a_minute_at_once_then_says_how_long_to_wait() -> None:
    rate = RateLimit(2.0, now=0.0)
    assert rate.take(120, now=0.0) == 0.0
    assert rate.take(1, now=0.0) == pytest.approx(0.5)
    assert rate.take(2, now=1.0) == 0.0  # two more a second later


class Topics:
    """What the endpoint published, by topic; it can stand for a broker that is away."""

    def __init__(self, away: bool = False) -> None:
        self.sent: dict[str, list[tuple[bytes, bytes]]] = {}
        self.away = away

    async def publish(self, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
        if self.away:
            raise KafkaConnectionError("broker away")
        self.sent.setdefault(topic, []).extend(messages)


def receive(topics: Topics, body: bytes, kind: str = "", caller: Caller = CENTRE) -> tuple[int, dict, dict]:
    ingest = HttpIngest(CATALOGUE, 1 << 20, ReportLimits(), topics.publish)
    return asyncio.run(ingest.receive(caller, kind, body))


def test_an_accepted_request_is_202_and_its_lines_are_keyed_as_replay_keys_them() -> None:
    topics = Topics()
    body = line(report_id="a") + b"\n" + line(report_id="b", persons=-1)
    status, answer, _ = receive(topics, body)
    assert status == 202 and [r["result"] for r in answer["results"]] == ["accepted", "rejected"]
    assert topics.sent[INTERCEPTIONS] == [
        (message_key(INTERCEPTIONS, raw) or b"", raw) for raw in split_lines(body)
    ]


def test_a_foreign_line_makes_it_403_with_only_the_dead_letter_sent() -> None:
    topics = Topics()
    status, answer, _ = receive(
        topics, line(report_id="a") + b"\n" + line(report_id="x", authority="MA-NADOR")
    )
    assert status == 403 and "nothing was sent" in answer["error"] and INTERCEPTIONS not in topics.sent
    (letter,) = [DeadLetter.model_validate_json(v) for _, v in topics.sent[DLQ]]
    assert letter.reason is RejectReason.AUTHORITY_MISMATCH


def test_a_broker_that_is_away_is_503_with_retry_after_never_a_silent_drop() -> None:
    status, answer, headers = receive(Topics(away=True), line(report_id="a"))
    assert status == 503 and headers == {"Retry-After": "5"} and "send them again" in answer["error"]


@pytest.mark.parametrize(
    ("body", "kind", "status"),
    [(b"", "", 400), (b"\n\n", "", 400), (b'{"a":1}', "tracks", 400), (b"{}\n" * 10_001, "", 413)],
)
def test_an_empty_body_an_unknown_kind_and_too_many_lines_are_refused(
    body: bytes, kind: str, status: int
) -> None:
    assert receive(Topics(), body, kind)[0] == status


def test_a_centre_over_its_rate_gets_429_with_retry_after() -> None:
    slow = Caller("ES-GC", frozenset({ApiRole.CENTRE}), rate_per_s=0.05)  # 3 reports in a minute
    ingest = HttpIngest(CATALOGUE, 1 << 20, ReportLimits(), Topics().publish)
    body = b"\n".join(line(report_id=f"r{n}") for n in range(3))
    assert asyncio.run(ingest.receive(slow, "", body))[0] == 202
    status, _, headers = asyncio.run(ingest.receive(slow, "", line(report_id="r9")))
    assert status == 429 and int(headers["Retry-After"]) >= 1


def test_a_rate_changed_by_a_reload_applies_at_the_next_request() -> None:
    ingest = HttpIngest(CATALOGUE, 1 << 20, ReportLimits(), Topics().publish)
    body = b"\n".join(line(report_id=f"r{n}") for n in range(3))
    slow = Caller("ES-GC", frozenset({ApiRole.CENTRE}), rate_per_s=0.05)  # its minute spent at once
    assert asyncio.run(ingest.receive(slow, "", body))[0] == 202
    status, _, headers = asyncio.run(ingest.receive(slow, "", line(report_id="r3")))
    assert status == 429 and int(headers["Retry-After"]) >= 19  # one report in 20 s
    faster = Caller("ES-GC", frozenset({ApiRole.CENTRE}), rate_per_s=10.0)
    status, _, headers = asyncio.run(ingest.receive(faster, "", line(report_id="r3")))
    assert status == 429 and headers["Retry-After"] == "1"  # the bucket it spent, refilled at the new rate
    time.sleep(0.15)
    assert asyncio.run(ingest.receive(faster, "", line(report_id="r3")))[0] == 202
    # Lowered, a full bucket holds no more than the new rate's minute.
    ingest.rates.clear()
    assert asyncio.run(ingest.receive(faster, "", line(report_id="r4")))[0] == 202
    slower = Caller("ES-GC", frozenset({ApiRole.CENTRE}), rate_per_s=0.02)  # one report a minute
    assert asyncio.run(ingest.receive(slower, "", line(report_id="r5")))[0] == 202
    assert asyncio.run(ingest.receive(slower, "", line(report_id="r6")))[0] == 429
