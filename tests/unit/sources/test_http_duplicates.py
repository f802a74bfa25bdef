"""HTTP ingest's `duplicate`: a report sent twice in one request, and one whose identity is stored
already (asked once per request, in a thread); a lookup that cannot tell leaves the lines `accepted`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import orjson

from geo import load_catalogue
from schemas import ReportLimits
from streams.kafka.topics import INTERCEPTIONS
from streams.sources.http import HttpIngest, ReportKey
from streams.web.tokens import ApiRole, Caller

CATALOGUE = load_catalogue()
CENTRE = Caller("ES-GC", frozenset({ApiRole.CENTRE}), rate_per_s=100.0)
GOOD = {"authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z", "lat": 35.5, "lon": 12.605,
        "incident_type": "irregular_crossing_attempt", "persons": 3}  # fmt: skip


def body(*report_ids: str) -> bytes:
    return b"\n".join(orjson.dumps({**GOOD, "report_id": r}) for r in report_ids)


class Sent:
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    async def publish(self, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
        assert topic == INTERCEPTIONS
        self.lines += [value for _, value in messages]


class Stored:
    """The identities ClickHouse holds, and the lookups asked of it."""

    def __init__(self, keys: set[tuple[str, str]] | None) -> None:
        self.keys = keys
        self.asked: list[list[ReportKey]] = []

    def __call__(self, keys: list[ReportKey]) -> set[tuple[str, str]] | None:
        self.asked.append(keys)
        return None if self.keys is None else {k for k in keys if k in self.keys}


def results(payload: bytes, stored: Stored | None = None) -> tuple[list[str], Sent]:
    sent = Sent()
    ingest = HttpIngest(CATALOGUE, 1 << 20, ReportLimits(), sent.publish, stored)
    status, answer, _ = asyncio.run(ingest.receive(CENTRE, "", payload))
    assert status == 202, answer
    return [r["result"] for r in answer["results"]], sent


def test_a_report_twice_in_one_request_is_a_duplicate_the_second_time_and_still_sent() -> None:
    found, sent = results(body("a", "b", "a"))
    assert found == ["accepted", "accepted", "duplicate"]
    assert len(sent.lines) == 3  # the sink counts it once; one path judges every report


def test_a_stored_identity_is_a_duplicate_asked_once_per_request() -> None:
    stored = Stored({("ES-GC", "old")})
    found, _ = results(body("old", "new", "new"), stored)
    assert found == ["duplicate", "accepted", "duplicate"]
    assert stored.asked == [[ReportKey("ES-GC", "old"), ReportKey("ES-GC", "new")]]


def test_a_lookup_that_cannot_tell_leaves_them_accepted() -> None:
    assert results(body("old", "new"), Stored(None))[0] == ["accepted", "accepted"]
    assert results(body("old"), None)[0] == ["accepted"]
