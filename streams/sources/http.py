"""HTTP ingest for border centres without a Kafka client: `POST /reports`, JSON or NDJSON.

A centre's token names it, and a report must be that centre's own: a line
whose `authority` is another's, or cannot be read for certain as ingest reads
it (see `authority_of`), refuses the whole request (403, nothing sent) and
becomes a dead letter, `authority_mismatch`. `application/json` is one report,
however it is laid out; `application/x-ndjson` one per line. Every other line gets
its result at once, accepted or rejected with reason and field, and is sent
on to the input topic keyed as `replay` keys it. The rejected lines go too:
ingest dead-letters them at their own log positions, with their raw bytes,
like any bad report, so nothing is lost and one path judges every report.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable, Container, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from aiokafka.errors import KafkaError

from geo.catalogue import Catalogue
from schemas.events import ReportKind
from schemas.limits import ReportLimits
from schemas.rejection import DeadLetter, Rejected, RejectReason
from schemas.validate import validate_report
from streams.kafka.keys import message_key
from streams.kafka.topics import DLQ, INTERCEPTIONS, VESSELS
from streams.stages.dead_letters import dead_letter_messages
from streams.stages.poison import error_text, internal_letter
from streams.web.tokens import Caller

HTTP_SOURCE = "http:/reports"  # the dead letters' source topic for what never reached a topic
TOPIC_OF_KIND = {"interception": INTERCEPTIONS, "vessel": VESSELS}


STORED_ALREADY = "a report with this authority and report_id is stored already; it counts once"
EARLIER_IN_REQUEST = "the same authority and report_id came earlier in this request; it counts once"


class ReportKey(NamedTuple):
    """A report's identity: a resend has the same one and counts once."""

    authority: str
    report_id: str


@dataclass
class Judged:
    """One request's lines: each one's result, what to send on, the dead letters of foreign lines, and
    the identity of each accepted line by its index in `results`."""

    results: list[dict[str, Any]] = field(default_factory=list)
    to_send: list[bytes] = field(default_factory=list)
    foreign: list[DeadLetter] = field(default_factory=list)
    accepted: dict[int, ReportKey] = field(default_factory=dict)

    def mark_stored(self, stored: Container[tuple[str, str]]) -> None:
        """Accepted lines whose identity is stored already become `duplicate` (they are still sent on)."""
        for index, key in list(self.accepted.items()):
            if key in stored:
                line = self.results[index]["line"]
                self.results[index] = {"line": line, "result": "duplicate", "detail": STORED_ALREADY}
                del self.accepted[index]


JSON_TYPE = "application/json"


def split_lines(body: bytes) -> list[bytes]:
    """The reports of an NDJSON body: one per non-blank line."""
    return [line for line in (raw.strip() for raw in body.split(b"\n")) if line]


def split_body(body: bytes, content_type: str) -> list[bytes] | str:
    """The reports of a body: `application/json` is one JSON value, whatever its whitespace;
    NDJSON one per line. A JSON body that is NDJSON instead gets a sentence saying so."""
    if content_type != JSON_TYPE:
        return split_lines(body)
    value = body.strip()
    if not value:
        return []
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        lines = split_lines(value)
        if len(lines) > 1 and all(_is_json(line) for line in lines):
            return "an application/json body is one report; send one per line as application/x-ndjson"
    return [value]


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


class _Object(list[tuple[str, Any]]):
    """A JSON object as its key/value pairs in document order, a repeated key kept."""


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


_PAIRS = json.JSONDecoder(object_pairs_hook=_Object, parse_constant=_no_constant)


def authority_of(line: bytes) -> str | None:
    """The `authority` ingest will read from a line, or None when it cannot be read for certain.

    None for a line that is not strict JSON to orjson (NaN, Infinity, bad UTF-8,
    a lone surrogate), not an object, without a string `authority`, or with
    `authority` given twice (orjson and pydantic keep the last, other parsers the
    first, so which centre it names depends on who reads it).
    """
    try:
        report = orjson.loads(line)
        pairs = _PAIRS.decode(line.decode("utf-8"))
    except (ValueError, RecursionError):  # orjson.JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    if not isinstance(report, dict) or not isinstance(pairs, _Object):
        return None
    given = [value for key, value in pairs if key == "authority"]
    named = report.get("authority")
    return named if len(given) == 1 and isinstance(named, str) and given[0] == named else None


def judge_lines(
    lines: list[bytes],
    centre: str,
    kind: ReportKind,
    now: datetime,
    known_crossings: Container[str],
    max_bytes: int,
    limits: ReportLimits,
    first_offset: int,
) -> Judged:
    """Each line validated as ingest will, and checked to be the centre's own."""
    judged = Judged()
    seen: set[ReportKey] = set()
    for number, line in enumerate(lines, start=1):
        outcome = validate_report(line, kind, now, known_crossings, max_bytes, limits)
        named = authority_of(line)
        if named != centre:
            detail = (
                f"the report names authority {named!r}; this token is centre {centre!r}"
                if named is not None
                else f"the report's authority cannot be read for certain (not strict JSON, not an object, "
                f"missing, or given twice); this token is centre {centre!r}"
            )
            judged.foreign.append(internal_letter(
                RejectReason.AUTHORITY_MISMATCH, detail, line, HTTP_SOURCE, 0, first_offset + number, now
            ))  # fmt: skip
            judged.results.append({"line": number, "result": "rejected", "reason": "authority_mismatch",
                                   "field": "authority", "detail": detail})  # fmt: skip
            continue
        judged.to_send.append(line)
        if isinstance(outcome, Rejected):
            judged.results.append({"line": number, "result": "rejected", "reason": outcome.reason.value,
                                   "field": outcome.field, "detail": outcome.detail})  # fmt: skip
        elif (key := ReportKey(outcome.authority, outcome.report_id)) in seen:
            judged.results.append({"line": number, "result": "duplicate", "detail": EARLIER_IN_REQUEST})
        else:
            seen.add(key)
            judged.accepted[len(judged.results)] = key
            judged.results.append({"line": number, "result": "accepted"})
    return judged


class RateLimit:
    """A centre's token bucket: `rate_per_s` reports a second, with a minute's worth at once."""

    def __init__(self, rate_per_s: float, now: float, before: RateLimit | None = None) -> None:
        """Full, or as full as `before` (the centre's bucket at its old rate) was."""
        self.rate = rate_per_s
        self.capacity = max(rate_per_s * 60, 1.0)
        self.tokens = self.capacity if before is None else min(self.capacity, before.refilled(now))
        self.at = now

    def refilled(self, now: float) -> float:
        return min(self.capacity, self.tokens + (now - self.at) * self.rate)

    def take(self, n: int, now: float) -> float:
        """Take n reports' worth: 0 when allowed, else the seconds until they would be."""
        self.tokens, self.at = self.refilled(now), now
        if n <= self.tokens:
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / self.rate


MAX_LINES = 10_000  # reports in one request
MAX_REQUEST_BYTES = 16 * 1024 * 1024  # of one request's body (the worker refuses more with 413)
BROKER_WAIT_S = 10.0
RETRY_AFTER_S = 5
STORED_WAIT_S = 2.0  # for the lookup of stored identities; past it, the lines stay `accepted`
Publish = Callable[[str, Sequence[tuple[bytes, bytes]]], Awaitable[None]]
StoredKeys = Callable[[list[ReportKey]], Container[tuple[str, str]] | None]
Answer = tuple[int, dict[str, Any], dict[str, str]]


class HttpIngest:
    """The `/reports` endpoint's work: judge a centre's lines, send them on, say what became of each."""

    def __init__(
        self, catalogue: Catalogue, max_bytes: int, limits: ReportLimits, publish: Publish,
        stored_keys: StoredKeys | None = None,
    ) -> None:  # fmt: skip
        """`stored_keys` (on a worker that holds ClickHouse) says which identities are stored already, or
        None when it cannot tell; it runs in a thread, once per request."""
        self.crossings = catalogue.crossing_ids
        self.max_bytes = max_bytes
        self.limits = limits
        self.publish = publish
        self.stored_keys = stored_keys
        self.rates: dict[str, RateLimit] = {}

    async def _mark_stored(self, judged: Judged) -> None:
        """Mark the accepted lines already stored as duplicates; on any failure or delay, leave them."""
        if self.stored_keys is None or not judged.accepted:
            return
        try:
            async with asyncio.timeout(STORED_WAIT_S):
                stored = await asyncio.to_thread(self.stored_keys, list(judged.accepted.values()))
        except TimeoutError:
            return
        if stored is not None:
            judged.mark_stored(stored)

    async def receive(
        self, caller: Caller, kind_name: str, body: bytes, content_type: str = "application/x-ndjson"
    ) -> Answer:
        """(status, JSON body, headers) for one request of `caller`, a centre."""
        topic = TOPIC_OF_KIND.get(kind_name or "interception")
        if topic is None:
            return 400, {"error": f"kind must be one of {', '.join(TOPIC_OF_KIND)}, not {kind_name!r}"}, {}
        lines = split_body(body, content_type)
        if isinstance(lines, str):
            return 400, {"error": lines}, {}
        if not lines:
            return 400, {"error": "the body holds no report: send a JSON object, or NDJSON lines"}, {}
        if len(lines) > MAX_LINES:
            return 413, {"error": f"{len(lines)} reports in one request; at most {MAX_LINES}"}, {}
        now_s = time.monotonic()
        rate = self.rates.get(caller.name)
        if rate is None or rate.rate != caller.rate_per_s:  # new, or its rate changed by a reload
            rate = self.rates[caller.name] = RateLimit(caller.rate_per_s, now_s, rate)
        if len(lines) > rate.capacity:  # would wait for ever: the bucket never holds that many
            most = math.floor(rate.capacity)
            detail = (
                f"{len(lines)} reports in one request; {caller.name!r} may send at most {most} at once"
                f" (its bucket: {caller.rate_per_s:g} reports/s, a minute's worth at once)"
            )
            return 413, {"error": detail, "bucket_size": most}, {}
        wait_s = rate.take(len(lines), now_s)
        if wait_s:
            retry = str(max(1, math.ceil(wait_s)))
            detail = f"over the rate of {caller.rate_per_s:g} reports/s for {caller.name!r}"
            return 429, {"error": detail}, {"Retry-After": retry}
        kind = ReportKind.VESSEL if topic == VESSELS else ReportKind.INTERCEPTION
        judged = await asyncio.to_thread(
            judge_lines, lines, caller.name, kind, datetime.now(UTC), self.crossings, self.max_bytes,
            self.limits, time.time_ns(),
        )  # fmt: skip
        if not judged.foreign:
            await self._mark_stored(judged)
        try:
            async with asyncio.timeout(BROKER_WAIT_S):
                if judged.foreign:
                    await self.publish(DLQ, dead_letter_messages(judged.foreign))
                    n, centre = len(judged.foreign), caller.name
                    detail = f"{n} report(s) name another authority than {centre!r}: nothing was sent"
                    return 403, {"error": detail, "results": judged.results}, {}
                await self.publish(
                    topic, [(message_key(topic, line) or b"", line) for line in judged.to_send]
                )
        except (KafkaError, TimeoutError) as error:
            # Some lines may be on the topic already: sent again, they are resends and count once.
            detail = f"the broker did not take the reports ({error_text(error)}); send them again"
            return 503, {"error": detail}, {"Retry-After": str(RETRY_AFTER_S)}
        return 202, {"results": judged.results}, {}
