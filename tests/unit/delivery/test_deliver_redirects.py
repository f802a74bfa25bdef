"""Probe: a webhook goes only where its subscription says; a redirect is a failed attempt."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiohttp
import orjson
from aiohttp import web

from schemas.alerts import Alert, AlertKind, AlertStatus, Impact
from streams.delivery.deliver import CentreSender, CentreStats
from streams.delivery.subscriptions import Subscription

SECRET = "s3cret-shared-with-es-ncc"


def alert() -> Alert:
    at = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    return Alert(
        id="surge:IT-LAMPEDUSA", version=1, kind=AlertKind.SURGE, status=AlertStatus.NEW,
        impact=Impact.HIGH, confidence=0.9, zone_id="IT-LAMPEDUSA", route="Central Mediterranean",
        window_start=at, window_end=at, headline="Surge", description="d", opened_at=at, sent_at=at,
    )  # fmt: skip


@asynccontextmanager
async def server(app: web.Application) -> AsyncIterator[int]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def redirected(status: int) -> tuple[int, list[bytes], list[bytes], CentreStats]:
    """POST one alert to a hook that answers `status` Location: the internal port; what reached where."""
    internal: list[bytes] = []
    hook_hits: list[bytes] = []

    async def admin(request: web.Request) -> web.Response:
        internal.append(await request.read())
        return web.Response(status=204)

    inside = web.Application()
    inside.router.add_route("*", "/internal-admin", admin)
    async with server(inside) as internal_port:

        async def hook(request: web.Request) -> web.Response:
            hook_hits.append(await request.read())
            location = f"http://127.0.0.1:{internal_port}/internal-admin"
            return web.Response(status=status, headers={"Location": location})

        outside = web.Application()
        outside.router.add_post("/hook", hook)
        letters: list[bytes] = []

        async def publish(topic: str, key: bytes, value: bytes) -> None:
            assert topic == "alerts.dlq"
            letters.append(value)

        stats = CentreStats()
        async with server(outside) as hook_port, aiohttp.ClientSession() as session:
            sub = Subscription(
                centre="ES-NCC", webhook=f"http://127.0.0.1:{hook_port}/hook",  # type: ignore[arg-type]
                secret=SECRET, backoff_s=0.01, backoff_max_s=0.02, max_attempts=3,  # type: ignore[arg-type]
            )  # fmt: skip
            sender = CentreSender(sub, session, publish, "alerts.dlq", "borderwatch", stats)
            delivered = await sender.deliver(alert(), time.time())
        assert delivered is (stats.delivered == 1)
    return len(hook_hits), internal, letters, stats


def test_a_307_to_another_local_port_is_a_failed_attempt_and_nothing_reaches_that_port() -> None:
    hits, internal, letters, stats = asyncio.run(redirected(307))
    assert internal == []  # the signed alert never went to the redirect's target
    assert (stats.delivered, stats.dead_lettered) == (0, 1)
    assert hits == 3  # retried like any other failure, up to the subscription's max_attempts
    (letter,) = [orjson.loads(x) for x in letters]
    assert "HTTP 307" in letter["error"] and letter["attempts"] == 3


def test_every_redirect_status_is_refused_the_same_way() -> None:
    for status in (301, 302, 303, 308):
        _, internal, letters, stats = asyncio.run(redirected(status))
        assert internal == [] and stats.delivered == 0 and len(letters) == 1, status
