"""Deliver stage: alerts from the `alerts` topic to coordination centres, durably and per centre.

Each centre reads `alerts` in a consumer group of its own, so its progress is
stored by the broker, and an offset is committed only after the alerts before
it were delivered or dead-lettered. A worker that dies mid-delivery leaves
the rest to whichever worker of the group takes its partitions, or to itself
after a restart: at least once, in order per partition (all versions of one
alert share a key, so a partition). A centre that is down holds up only its
own group; detection and the other centres go on.

Webhooks are POSTed signed, with the alert state's idempotency key (see
signing.py), and retried with exponential backoff and jitter until the alert
is `max_age_s` old (counted from when it was raised); only then does it go to
`alerts.dlq` with the error. Kafka subscriptions get the alert on their own
topic, retried the same way. An alert state a silence matches (silences.py) is
not sent: the silences are read afresh before each batch that has an alert to send.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    stop_after_attempt,
    stop_after_delay,
    stop_any,
    wait_random_exponential,
)
from tenacity.stop import stop_base

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
from streams.delivery.silences import Silence, silenced_by
from streams.delivery.subscriptions import Subscription
from streams.kafka.clients import KafkaBatchConsumer

log = logging.getLogger(__name__)
BATCH = 100  # alerts read at once per centre; each is delivered before the next
SENT_REMEMBERED = 10_000  # states remembered per centre against a repeat (about 1 MB)

Publish = Callable[[str, bytes, bytes], Awaitable[None]]


def delivery_group(worker_id: str, centre: str) -> str:
    """The consumer group that stores one centre's delivery progress on `alerts`."""
    return f"{worker_id}-deliver-{centre}"


@dataclass
class CentreStats:
    """One centre's counts and state, for /status."""

    delivered: int = 0
    dead_lettered: int = 0
    skipped: int = 0  # not wanted by the centre's filters, not notifying, or not an alert
    silenced: int = 0  # wanted, but a silence matched it
    repeated: int = 0  # a state (id and version) this process delivered to the centre already, not sent
    retrying: str = ""  # the last error while an alert is being retried, else empty
    retries: int = 0  # failed attempts that were retried


@dataclass
class DeliveryStats:
    """Per-centre counts, for /status."""

    centres: dict[str, CentreStats] = field(default_factory=dict)

    def of(self, centre: str) -> CentreStats:
        """The stats of one centre, made on first use."""
        return self.centres.setdefault(centre, CentreStats())

    def summary(self) -> dict[str, Any]:
        """{"delivered": {centre: n}, "failed", "silenced", "retrying": {centre: error}} for /status."""
        c = self.centres
        return {
            "delivered": {k: s.delivered for k, s in c.items()},
            "failed": {k: s.dead_lettered for k, s in c.items()},
            "silenced": {k: s.silenced for k, s in c.items()},
            "retrying": {k: s.retrying for k, s in c.items() if s.retrying},
        }


class CentreSender:
    """Sends one alert to one centre, retrying until it is delivered or too old."""

    def __init__(
        self,
        sub: Subscription,
        session: aiohttp.ClientSession,
        publish: Publish,
        dead_letter_topic: str,
        sender: str,
        stats: CentreStats,
    ) -> None:
        self.sub = sub
        self.session = session
        self.publish = publish
        self.dead_letter_topic = dead_letter_topic
        self.sender = sender
        self.stats = stats
        # The states sent (id, version), the newest SENT_REMEMBERED: the detectors can publish one
        # state twice, and a centre is paged once. After a restart the idempotency key is the guard.
        self.sent: OrderedDict[tuple[str, int], None] = OrderedDict()

    def sent_before(self, alert: Alert) -> bool:
        """Whether this state of the alert was delivered here already."""
        return (alert.id, alert.version) in self.sent

    def remember(self, alert: Alert) -> None:
        """Note a state as delivered, forgetting the oldest past SENT_REMEMBERED."""
        self.sent[(alert.id, alert.version)] = None
        while len(self.sent) > SENT_REMEMBERED:
            self.sent.popitem(last=False)

    def body(self, alert: Alert) -> tuple[bytes, str]:
        """The payload and its content type in the subscription's format."""
        if self.sub.format == "cap":
            return render_cap(alert, self.sender), "application/cap+xml"
        return encode(alert), "application/json"

    async def deliver(self, alert: Alert, raised_at: float) -> bool:
        """Deliver, or dead-letter once the alert is older than the subscription's max age.

        Returns whether it was delivered. A failure to dead-letter (the broker)
        propagates: the offset is then not committed and the alert comes again.
        """
        body, content_type = self.body(alert)
        attempts = 0

        async def once() -> None:
            nonlocal attempts
            attempts += 1
            if self.sub.topic is not None:
                await self.publish(self.sub.topic, alert.id.encode(), body)
            else:
                await self._post(body, content_type, idempotency_key(alert.id, alert.version))

        def note(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            self.stats.retries += 1
            self.stats.retrying = f"{alert.id} v{alert.version}: {type(error).__name__}: {error}"

        # Until the alert is max_age_s old; one try even when it is older already.
        limits: list[stop_base] = [stop_after_delay(max(0.0, raised_at + self.sub.max_age_s - time.time()))]
        limits += [stop_after_attempt(self.sub.max_attempts)] if self.sub.max_attempts else []
        retrying = AsyncRetrying(
            stop=stop_any(*limits), before_sleep=note,
            wait=wait_random_exponential(multiplier=self.sub.backoff_s, max=self.sub.backoff_max_s),
        )  # fmt: skip
        try:
            await retrying(once)
        except RetryError as error:
            cause = error.last_attempt.exception()
            await self._dead_letter(alert, f"{type(cause).__name__}: {cause}", attempts)
            return False
        finally:
            self.stats.retrying = ""
        self.stats.delivered += 1
        return True

    async def _post(self, body: bytes, content_type: str, key: str) -> None:
        """One signed POST to the subscription's URL; anything but a 2xx (a redirect too) raises."""
        assert self.sub.webhook is not None and self.sub.secret is not None
        timestamp = int(time.time())
        headers = {
            "Content-Type": content_type,
            TIMESTAMP_HEADER: str(timestamp),
            IDEMPOTENCY_KEY_HEADER: key,
            SIGNATURE_HEADER: sign(self.sub.secret.get_secret_value(), timestamp, key, body),
        }
        timeout = aiohttp.ClientTimeout(total=self.sub.timeout_s)
        # Never follow a redirect: the signed alert goes to the subscription's URL or nowhere,
        # so a 3xx is a failed attempt like a 5xx (a redirect could point it at an internal host).
        async with self.session.post(
            str(self.sub.webhook), data=body, headers=headers, timeout=timeout, allow_redirects=False
        ) as r:
            if r.status >= 300:
                raise aiohttp.ClientResponseError(
                    r.request_info, r.history, status=r.status, message=f"HTTP {r.status}"
                )

    async def _dead_letter(self, alert: Alert, error: str, attempts: int) -> None:
        self.stats.dead_lettered += 1
        sub = self.sub
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


def wanted(sub: Subscription, record: ConsumerRecord[bytes, bytes]) -> Alert | None:
    """The record's alert if this centre is to get it; a record that is no alert is skipped.

    The alerts sink dead-letters such records; here they are only not sent.
    """
    try:
        alert = Alert.model_validate_json(record.value or b"")
    except (ValidationError, ValueError):
        return None
    return alert if alert.notify and sub.wants(alert) else None


class SilenceBook:
    """The silences as last read: `load` runs in a thread; when it fails, the last ones read still hold."""

    def __init__(self, load: Callable[[], list[Silence]] | None) -> None:
        self._load = load
        self.last: list[Silence] = []

    async def current(self) -> list[Silence]:
        """The silences now."""
        if self._load is None:
            return self.last
        try:
            self.last = await asyncio.to_thread(self._load)
        except Exception as error:  # ClickHouse away: deliver by the silences known
            log.warning("cannot read the silences (%s): the %d read last apply", error, len(self.last))
        return self.last


NO_SILENCES = SilenceBook(None)


async def deliver_records(
    sender: CentreSender, records: Sequence[ConsumerRecord[bytes, bytes]], silences: SilenceBook = NO_SILENCES
) -> None:
    """Each wanted alert of a batch in turn; one is finished (delivered or dead-lettered) before the next.

    A silenced one is counted and not sent."""
    alerts = [wanted(sender.sub, record) for record in records]
    current = await silences.current() if any(a is not None for a in alerts) else []
    for record, alert in zip(records, alerts, strict=True):
        if alert is None:
            sender.stats.skipped += 1
            continue
        silence = silenced_by(alert, current)
        if silence is not None:
            sender.stats.silenced += 1
            log.info(
                "alert %s v%d to %s silenced by %s", alert.id, alert.version, sender.sub.centre, silence.id
            )
            continue
        if sender.sent_before(alert):
            sender.stats.repeated += 1
            continue
        if await sender.deliver(alert, record.timestamp / 1000):
            sender.remember(alert)  # a dead-lettered state that comes again gets another chance


async def run_centre(
    consumer: KafkaBatchConsumer, sender: CentreSender, silences: SilenceBook = NO_SILENCES
) -> None:
    """Until cancelled: read `alerts` in this centre's group, deliver, then commit."""
    while True:
        records = await consumer.next_batch(BATCH, 1.0)
        if not records:
            continue
        await deliver_records(sender, records, silences)
        try:
            await consumer.commit(records)
        except (CommitFailedError, IllegalStateError) as error:
            # The group moved the partitions on meanwhile: their new owner delivers again
            # from the last commit, under the same idempotency keys.
            log.warning("delivery to %s: commit refused after a rebalance: %s", sender.sub.centre, error)


class Deliverer:
    """One consumer and sender per centre, so that none waits for another."""

    def __init__(
        self,
        subscriptions: list[Subscription],
        consumer_of: Callable[[Subscription], KafkaBatchConsumer],
        publish: Publish,
        dead_letter_topic: str,
        sender: str,
        silences: SilenceBook = NO_SILENCES,
    ) -> None:
        self.subscriptions = subscriptions
        self.silences = silences
        self.consumer_of = consumer_of
        self.publish = publish
        self.dead_letter_topic = dead_letter_topic
        self.sender = sender
        self.stats = DeliveryStats()

    async def run(self) -> None:
        """Run every centre until cancelled; a fault in one (the broker, past its retries) propagates."""
        if not self.subscriptions:
            await asyncio.Event().wait()
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(self._run_one(sub, session) for sub in self.subscriptions))

    async def _run_one(self, sub: Subscription, session: aiohttp.ClientSession) -> None:
        consumer = self.consumer_of(sub)
        sender = CentreSender(
            sub, session, self.publish, self.dead_letter_topic, self.sender, self.stats.of(sub.centre)
        )
        await consumer.start()
        try:
            await run_centre(consumer, sender, self.silences)
        finally:
            await consumer.stop()
