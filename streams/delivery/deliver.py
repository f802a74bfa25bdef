"""Deliver stage: alerts to coordination centres, one queue per centre so that none waits for another.

Webhooks are POSTed signed, with the alert state's idempotency key (see
signing.py), and retried with exponential backoff and jitter; after the last
try the alert goes to `alerts.dlq` with the error. Kafka subscriptions get the
alert on their own topic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from tenacity import AsyncRetrying, RetryError, stop_after_attempt, wait_random_exponential

from schemas.alerts import Alert
from schemas.cap import render_cap
from schemas.codec import encode, encode_obj
from streams.delivery.signing import (
    IDEMPOTENCY_KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    idempotency_key,
    sign,
)
from streams.delivery.subscriptions import Subscription

log = logging.getLogger(__name__)
QUEUE_LIMIT = 10_000

Publish = Callable[[str, bytes, bytes], Awaitable[None]]


@dataclass
class DeliveryStats:
    """Per-centre counts, for /status."""

    delivered: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)


class Deliverer:
    """Fans notifying alerts out to the subscriptions that want them."""

    def __init__(
        self, subscriptions: list[Subscription], publish: Publish, dead_letter_topic: str, sender: str
    ):
        self.subscriptions = subscriptions
        self.publish = publish
        self.dead_letter_topic = dead_letter_topic
        self.sender = sender
        self.stats = DeliveryStats()
        self._queues: dict[str, asyncio.Queue[Alert]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """One sender task per centre."""
        self._session = aiohttp.ClientSession()
        for sub in self.subscriptions:
            self._queues[sub.centre] = asyncio.Queue(QUEUE_LIMIT)
            self._tasks.append(asyncio.create_task(self._run(sub), name=f"deliver-{sub.centre}"))

    async def stop(self) -> None:
        """Cancel the senders and close the HTTP session."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def offer(self, alert: Alert) -> None:
        """Queue an alert for every centre that wants it; never waits on a receiver."""
        if not alert.notify:
            return
        for sub in self.subscriptions:
            if sub.wants(alert):
                try:
                    self._queues[sub.centre].put_nowait(alert)
                except asyncio.QueueFull:
                    await self._dead_letter(
                        sub, alert, "delivery queue full: the receiver is not keeping up", 0
                    )

    def body(self, sub: Subscription, alert: Alert) -> tuple[bytes, str]:
        """The payload and its content type in the subscription's format."""
        if sub.format == "cap":
            return render_cap(alert, self.sender), "application/cap+xml"
        return encode(alert), "application/json"

    async def _run(self, sub: Subscription) -> None:
        queue = self._queues[sub.centre]
        while True:
            alert = await queue.get()
            body, content_type = self.body(sub, alert)
            try:
                if sub.topic is not None:
                    await self.publish(sub.topic, alert.id.encode(), body)
                else:
                    key = idempotency_key(alert.id, alert.version)
                    await self._post_with_retries(sub, body, content_type, key)
            except RetryError as error:
                cause = error.last_attempt.exception()
                await self._dead_letter(sub, alert, f"{type(cause).__name__}: {cause}", sub.max_attempts)
            except Exception as error:  # a Kafka channel fault: record it, keep serving the others
                log.exception("delivery to %s failed", sub.centre)
                await self._dead_letter(sub, alert, f"{type(error).__name__}: {error}", 1)
            else:
                self.stats.delivered[sub.centre] = self.stats.delivered.get(sub.centre, 0) + 1

    async def _post_with_retries(self, sub: Subscription, body: bytes, content_type: str, key: str) -> None:
        """POST until a 2xx or the last attempt; every attempt is signed anew under the same key."""
        assert self._session is not None and sub.webhook is not None and sub.secret is not None
        retrying = AsyncRetrying(
            stop=stop_after_attempt(sub.max_attempts),
            wait=wait_random_exponential(multiplier=sub.backoff_s, max=sub.backoff_max_s),
        )
        async for attempt in retrying:
            with attempt:
                timestamp = int(time.time())
                headers = {
                    "Content-Type": content_type,
                    TIMESTAMP_HEADER: str(timestamp),
                    IDEMPOTENCY_KEY_HEADER: key,
                    SIGNATURE_HEADER: sign(sub.secret.get_secret_value(), timestamp, key, body),
                }
                timeout = aiohttp.ClientTimeout(total=sub.timeout_s)
                async with self._session.post(
                    str(sub.webhook), data=body, headers=headers, timeout=timeout
                ) as r:
                    if r.status >= 300:
                        raise aiohttp.ClientResponseError(
                            r.request_info, r.history, status=r.status, message=f"HTTP {r.status}"
                        )

    async def _dead_letter(self, sub: Subscription, alert: Alert, error: str, attempts: int) -> None:
        self.stats.failed[sub.centre] = self.stats.failed.get(sub.centre, 0) + 1
        log.warning("alert %s v%d to %s dead-lettered: %s", alert.id, alert.version, sub.centre, error)
        record = {
            "centre": sub.centre,
            "channel": str(sub.webhook or f"kafka:{sub.topic}"),
            "attempts": attempts,
            "error": error,
            "alert": alert.model_dump(mode="json"),
            "failed_at": time.time(),
        }
        await self.publish(self.dead_letter_topic, alert.id.encode(), encode_obj(record))
