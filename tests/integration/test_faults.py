"""Broker faults through a proxy the test cuts: ridden out within the limit, a clear exit past it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.make_sample_feed import generate
from streams.kafka.broker import LocalBroker, free_port, start_local_broker
from streams.kafka.topics import INTERCEPTIONS, ensure_topics
from streams.replay import replay_lines
from tests.integration.faults import FaultProxy
from tests.integration.test_counts import stored_counts


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
