"""Broker faults through a proxy the test cuts: ridden out within the limit, a clear exit past it;
a ClickHouse fault from a failing client, ridden out with every report stored once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import OperationalError

from geo import load_catalogue
from schemas.limits import ReportLimits
from scripts.make_sample_feed import generate
from streams.detect.thresholds import Thresholds
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import LocalBroker, free_port, start_local_broker
from streams.kafka.clients import KafkaBatchConsumer, KafkaEventPublisher
from streams.kafka.topics import INTERCEPTIONS, MAX_MESSAGE_BYTES
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.events import ClickHouseIncidentSink
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.sources.replay import replay_lines
from streams.stages.ingest import Ingest
from streams.stages.runner import StageCounts, run_batches
from streams.stages.store import Store
from streams.worker.health import Health
from streams.worker.supervise import retry_faults
from tests.integration.faults import FaultProxy
from tests.integration.test_counts import stored_counts

CATALOGUE = load_catalogue()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[FaultProxy]:
    """A Tansu broker that tells its clients to come back through a fault proxy."""
    target = free_port()
    proxy = FaultProxy(target)
    with start_local_broker(tmp_path / "broker", port=target, advertised_port=proxy.port):
        asyncio.run(ensure_topics(proxy.url, partitions=2))
        yield proxy
    proxy.close()


@pytest.fixture
def broker(proxy: FaultProxy) -> LocalBroker:
    """The conftest's workers connect through the proxy (only `url` is used)."""
    return type("Proxied", (), {"url": proxy.url})()  # type: ignore[return-value]


def test_a_broker_outage_within_the_limit_is_retried_and_the_counts_stay_exact(
    proxy: FaultProxy, start_worker: Any
) -> None:
    feed = generate(scale=10, vessels=0)
    reports, _ = feed.expected_totals()
    worker = start_worker(fault_limit_s="60", batch_size="200")
    half = len(feed.interceptions) // 2
    asyncio.run(replay_lines(iter(feed.interceptions[:half]), INTERCEPTIONS, proxy.url))
    worker.wait_until(lambda s: s["processed"] > 0)
    proxy.cut()
    assert worker.api is not None
    deadline = time.monotonic() + 20
    while (health := worker.api.get("/health")).get("status") != 503:  # the 503's body, as text
        assert time.monotonic() < deadline, health
        time.sleep(0.5)
    assert '"broker":"degraded: the broker does not answer' in health["error"], health
    time.sleep(10)
    assert worker.process.poll() is None, worker.log.read_text()[-3000:]
    proxy.restore()
    asyncio.run(replay_lines(iter(feed.interceptions[half:]), INTERCEPTIONS, proxy.url))
    worker.wait_until(lambda s: s["events"] >= reports and s["rejects"] >= feed.bad_lines, timeout_s=240)
    assert stored_counts(worker) == feed.expected
    plain = worker.sql(
        "SELECT (SELECT count() FROM borderwatch.events), (SELECT count() FROM borderwatch.rejects)"
    )
    assert plain == [[reports, feed.bad_lines]]
    deadline = time.monotonic() + 30
    while (health := worker.api.get("/health")).get("healthy") is not True:
        assert time.monotonic() < deadline, health
        time.sleep(0.5)


def test_past_the_limit_the_worker_exits_non_zero_and_says_why(proxy: FaultProxy, start_worker: Any) -> None:
    worker = start_worker(fault_limit_s="6")
    assert worker.api is not None
    deadline = time.monotonic() + 60
    while worker.api.get("/health").get("healthy") is not True:  # started, every part running
        assert time.monotonic() < deadline
        time.sleep(0.5)
    proxy.cut()
    assert worker.process.wait(timeout=90) != 0
    assert "the broker did not answer for 6 s (BORDERWATCH_FAULT_LIMIT_S)" in worker.log.read_text()


class FailingClient:
    """A real chdb client with injected faults: every call refused, or inserts done and their answer lost."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._down_until = 0.0
        self._answers_to_lose = 0
        self.failures = 0
        self.lost_answers = 0

    def fail_for(self, seconds: float) -> None:
        self._down_until = time.monotonic() + seconds

    def lose_answers(self, inserts: int) -> None:
        """The next `inserts` inserts are done, and their answers lost (by count: a timed window
        could pass while ingest waits in its backoff, on a loaded machine)."""
        self._answers_to_lose = inserts

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._client, name)
        if name not in ("query", "command", "insert", "raw_insert"):
            return call

        def failing(*args: Any, **kwargs: Any) -> Any:
            now = time.monotonic()
            if now < self._down_until:
                self.failures += 1
                raise OperationalError("injected: ClickHouse does not answer")
            result = call(*args, **kwargs)
            if self._answers_to_lose > 0 and name.endswith("insert"):
                self._answers_to_lose -= 1
                self.lost_answers += 1
                raise OperationalError("injected: the answer to an insert was lost")
            return result

        return failing


def test_a_clickhouse_fault_within_the_limit_is_retried_and_every_report_is_stored_once(
    proxy: FaultProxy, engine_dir: Path
) -> None:
    """The ingest stage on the real broker and a real chdb behind a client that fails for 3 s, then
    loses the answers to three of its inserts."""
    feed = generate(scale=3, vessels=0)
    reports, _ = feed.expected_totals()
    lines, db = feed.interceptions, "bw_clickhouse_fault"
    real = connect(f"chdb://{engine_dir}")
    migrate(real, db)
    client = FailingClient(real)
    store = Store(ClickHouseIncidentSink(client, db), CATALOGUE, 2, Thresholds(), detectors=False)  # type: ignore[arg-type]
    health = Health()
    seen: set[str] = set()

    async def run() -> None:
        publisher = KafkaEventPublisher(proxy.url)
        consumer = KafkaBatchConsumer(proxy.url, db, (INTERCEPTIONS,))
        await publisher.start()
        await consumer.start()
        counts = StageCounts()
        ingest = Ingest(CATALOGUE, MAX_MESSAGE_BYTES, ReportLimits())
        retry = partial(retry_faults, health, "ingest", 60)
        stage = asyncio.create_task(
            run_batches(ingest.prepare, store.store_and_publish, consumer, publisher, counts, 100, 0.1, retry)
        )
        try:
            await replay_lines(iter(lines[:100]), INTERCEPTIONS, proxy.url)
            while counts.processed == 0:
                await asyncio.sleep(0.05)
            third = len(lines) // 3
            client.fail_for(3.0)
            await replay_lines(iter(lines[100:third]), INTERCEPTIONS, proxy.url)
            await asyncio.sleep(3.0)
            client.lose_answers(3)
            await replay_lines(iter(lines[third:]), INTERCEPTIONS, proxy.url)
            async with asyncio.timeout(120):
                while counts.processed < len(lines):
                    assert not stage.done(), stage.result()
                    seen.add(health.of("ingest").state.value)
                    await asyncio.sleep(0.05)
        finally:
            stage.cancel()
            await consumer.stop()
            await publisher.stop()

    asyncio.run(run())
    assert "degraded" in seen and str(health.of("ingest")) == "ok", (seen, health.as_dict())
    assert client.failures > 2 and client.lost_answers == 3
    assert real.query(f"SELECT count() FROM {db}.events").result_rows == [(reports,)]
    rows = real.query(
        "SELECT crossing_id, route, incident_type, sum(reports), sum(persons) "
        f"FROM {db}.crossing_counts GROUP BY crossing_id, route, incident_type"
    ).result_rows
    assert {(c, r, t): [int(n), int(p)] for c, r, t, n, p in rows} == feed.expected
