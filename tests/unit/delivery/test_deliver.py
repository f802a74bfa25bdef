"""The centre sender against a real HTTP endpoint: retried under one key until delivered or too old."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiohttp
import orjson
from aiohttp import web
from aiokafka.structs import ConsumerRecord

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from schemas.codec import encode
from streams.delivery.deliver import CentreSender, CentreStats, deliver_records
from streams.delivery.signing import (
    IDEMPOTENCY_KEY_HEADER,
    TIMESTAMP_HEADER,
    ReplayGuard,
    Verdict,
    verify_delivery,
)
from streams.delivery.subscriptions import Subscription

SECRET = "s3cret-shared-with-es-ncc"
Received = list[tuple[dict[str, str], bytes]]


def alert(version: int, impact: Impact = Impact.HIGH, notify: bool = True) -> Alert:
    at = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    return Alert(
        id="surge:IT-LAMPEDUSA", version=version, kind=AlertKind.SURGE, status=AlertStatus.NEW,
        impact=impact, confidence=0.9, zone_id="IT-LAMPEDUSA", route="Central Mediterranean",
        window_start=at, window_end=at, headline="Surge", description="d", opened_at=at, sent_at=at,
        notify=notify,
    )  # fmt: skip


@asynccontextmanager
async def receiver(answer: Callable[[int], int]) -> AsyncIterator[tuple[str, Received]]:
    """A real endpoint; `answer(n)` is the status of the n-th POST (from 0)."""
    received: Received = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=answer(len(received) - 1))

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", received
    finally:
        await runner.cleanup()


async def send_all(
    answer: Callable[[int], int], alerts: list[Alert], raised_at: float, **sub: object
) -> tuple[Received, list[bytes], CentreStats]:
    letters: list[bytes] = []

    async def publish(topic: str, key: bytes, value: bytes) -> None:
        assert topic == "alerts.dlq"
        letters.append(value)

    stats = CentreStats()
    async with receiver(answer) as (url, received), aiohttp.ClientSession() as session:
        settings = {"backoff_s": 0.01, "backoff_max_s": 0.02, **sub}
        subscription = Subscription(centre="ES-NCC", webhook=url, secret=SECRET, **settings)  # type: ignore[arg-type]
        sender = CentreSender(subscription, session, publish, "alerts.dlq", "borderwatch", stats)
        for a in alerts:
            await sender.deliver(a, raised_at)
    return received, letters, stats


def test_a_lost_answer_is_retried_under_the_same_key_and_recognised_as_a_repeat() -> None:
    received, letters, stats = asyncio.run(
        send_all(lambda n: 500 if n == 0 else 204, [alert(1), alert(2)], time.time())
    )
    guard = ReplayGuard()
    now = int(received[0][0][TIMESTAMP_HEADER])
    verdicts = [verify_delivery(SECRET, h, body, now, guard) for h, body in received]
    assert verdicts == [Verdict.ACCEPTED, Verdict.REPLAYED, Verdict.ACCEPTED]
    assert [h[IDEMPOTENCY_KEY_HEADER] for h, _ in received] == [
        "surge:IT-LAMPEDUSA:1", "surge:IT-LAMPEDUSA:1", "surge:IT-LAMPEDUSA:2",
    ]  # fmt: skip
    assert (letters, stats.delivered, stats.dead_lettered) == ([], 2, 0)


def test_an_endpoint_that_is_down_is_retried_until_it_is_back_however_many_tries_that_takes() -> None:
    # 40 failures: far more than any fixed number of attempts would have allowed before.
    received, letters, stats = asyncio.run(
        send_all(lambda n: 503 if n < 40 else 204, [alert(1)], time.time(), max_age_s=60)
    )
    assert len(received) == 41 and letters == [] and stats.delivered == 1
    assert {h[IDEMPOTENCY_KEY_HEADER] for h, _ in received} == {"surge:IT-LAMPEDUSA:1"}


def test_only_an_alert_past_its_max_age_is_dead_lettered_with_the_error() -> None:
    started = time.monotonic()
    received, letters, stats = asyncio.run(send_all(lambda n: 500, [alert(1)], time.time(), max_age_s=0.5))
    assert time.monotonic() - started >= 0.5
    (letter,) = [orjson.loads(x) for x in letters]
    assert letter["centre"] == "ES-NCC" and letter["attempts"] == len(received) > 1
    assert "HTTP 500" in letter["error"] and letter["alert"]["id"] == "surge:IT-LAMPEDUSA"
    assert (stats.delivered, stats.dead_lettered, stats.retrying) == (0, 1, "")


def test_an_alert_older_than_its_max_age_still_gets_one_try() -> None:
    received, letters, _ = asyncio.run(send_all(lambda n: 204, [alert(1)], time.time() - 10, max_age_s=1))
    assert len(received) == 1 and letters == []


def record(offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        "alerts", 0, offset, int(time.time() * 1000), 0, b"k", value, None, 1, len(value), ()
    )  # type: ignore[arg-type]


def test_records_are_delivered_in_order_and_the_unwanted_and_the_garbage_are_skipped() -> None:
    records = [
        record(0, encode(alert(1))),
        record(1, b"not an alert"),
        record(2, encode(alert(2, impact=Impact.LOW))),  # below the centre's min_impact
        record(3, encode(alert(3, notify=False))),
        record(4, encode(alert(4))),
    ]
    letters: list[bytes] = []

    async def publish(topic: str, key: bytes, value: bytes) -> None:
        letters.append(value)

    async def run() -> tuple[Received, CentreStats]:
        stats = CentreStats()
        async with receiver(lambda n: 204) as (url, received), aiohttp.ClientSession() as session:
            sub = Subscription(centre="ES-NCC", webhook=url, secret=SECRET, min_impact=Impact.MEDIUM)
            await deliver_records(CentreSender(sub, session, publish, "alerts.dlq", "bw", stats), records)
        return received, stats

    received, stats = asyncio.run(run())
    assert [Alert.model_validate_json(b).version for _, b in received] == [1, 4]
    assert (stats.delivered, stats.skipped, letters) == (2, 3, [])


def test_a_state_already_delivered_to_the_centre_is_not_sent_again() -> None:
    # The detectors can publish one state (id and version) twice, e.g. a group resolved on two
    # partitions in one backfill: the centre is paged once. A newer version still goes.
    records = [record(n, encode(alert(v))) for n, v in enumerate((1, 1, 2, 1, 2, 3))]

    async def publish(topic: str, key: bytes, value: bytes) -> None:
        raise AssertionError("nothing is dead-lettered")

    async def run() -> tuple[Received, CentreStats]:
        stats = CentreStats()
        async with receiver(lambda n: 204) as (url, received), aiohttp.ClientSession() as session:
            sub = Subscription(centre="ES-NCC", webhook=url, secret=SECRET)
            sender = CentreSender(sub, session, publish, "alerts.dlq", "bw", stats)
            await deliver_records(sender, records[:3])
            await deliver_records(sender, records[3:])
        return received, stats

    received, stats = asyncio.run(run())
    assert [Alert.model_validate_json(b).version for _, b in received] == [1, 2, 3]
    assert (stats.delivered, stats.repeated) == (3, 3)


def test_a_state_dead_lettered_once_is_tried_again_when_it_comes_again() -> None:
    records = [record(0, encode(alert(1))), record(1, encode(alert(1)))]
    letters: list[bytes] = []

    async def publish(topic: str, key: bytes, value: bytes) -> None:
        letters.append(value)

    async def run() -> tuple[Received, CentreStats]:
        stats = CentreStats()
        async with (
            receiver(lambda n: 503 if n == 0 else 204) as (url, received),
            aiohttp.ClientSession() as session,
        ):
            sub = Subscription(centre="ES-NCC", webhook=url, secret=SECRET, max_attempts=1)
            sender = CentreSender(sub, session, publish, "alerts.dlq", "bw", stats)
            await deliver_records(sender, records)
        return received, stats

    received, stats = asyncio.run(run())
    assert (len(received), len(letters), stats.delivered, stats.repeated) == (2, 1, 1, 0)
