"""Transient faults are retried with the worker's health saying so; bugs and long faults are not."""

from __future__ import annotations

import asyncio
import time

import pytest
from clickhouse_connect.driver.exceptions import OperationalError

from streams.worker.health import Health
from streams.worker.supervise import retry_faults


class FailingClient:
    """Stands in for ClickHouse that refuses `failures` inserts, then takes them."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error = failures, error
        self.calls = 0
        self.health_seen: list[str] = []

    async def insert(self, health: Health) -> str:
        self.calls += 1
        self.health_seen.append(str(health.of("sink")))
        if self.calls <= self.failures:
            raise self.error
        return "stored"


def test_a_fault_that_clears_is_retried_and_health_says_degraded_meanwhile() -> None:
    health = Health()
    health.ok("sink")
    client = FailingClient(2, OperationalError("connection refused"))
    result = asyncio.run(retry_faults(health, "sink", 30, lambda: client.insert(health)))
    assert (result, client.calls) == ("stored", 3)
    assert client.health_seen[0] == "ok"
    assert client.health_seen[1].startswith("degraded: OperationalError: connection refused")
    assert "retrying for up to 30 s" in client.health_seen[1]
    assert str(health.of("sink")) == "ok"  # recovered


def test_a_fault_past_the_limit_propagates_and_health_still_names_it() -> None:
    health = Health()
    health.ok("sink")
    client = FailingClient(10**6, ConnectionError("broker gone"))
    started = time.monotonic()
    with pytest.raises(ConnectionError, match="broker gone"):
        asyncio.run(retry_faults(health, "sink", 0.5, lambda: client.insert(health)))
    assert 0.5 <= time.monotonic() - started < 10
    assert client.calls >= 2 and str(health.of("sink")).startswith("degraded: ConnectionError")


def test_an_error_that_is_no_fault_is_not_retried() -> None:
    health = Health()
    health.ok("sink")
    client = FailingClient(1, ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        asyncio.run(retry_faults(health, "sink", 30, lambda: client.insert(health)))
    assert client.calls == 1 and str(health.of("sink")) == "ok"


def test_the_broker_watch_says_degraded_recovers_and_past_the_limit_stops_with_a_message() -> None:
    from aiokafka.errors import KafkaConnectionError

    from schemas.errors import BrokerUnavailableError
    from streams.worker.supervise import watch_broker

    answers = iter([None, KafkaConnectionError("closed"), None] + [KafkaConnectionError("closed")] * 50)
    seen: list[str] = []
    health = Health("broker")

    async def cluster_id(timeout_s: float) -> str:
        seen.append(str(health.of("broker")))
        answer = next(answers)
        if answer is not None:
            raise answer
        return "c1"

    with pytest.raises(BrokerUnavailableError, match=r"did not answer for 0.05 s"):
        asyncio.run(watch_broker(health, cluster_id, "c1", limit_s=0.05, every_s=0.01))
    assert seen[:2] == ["starting", "ok"] and seen[3] == "ok"
    assert seen[2].startswith("degraded: the broker does not answer") and seen[-1].startswith("degraded")


def test_a_broker_that_comes_back_as_another_cluster_stops_the_worker_at_once() -> None:
    from schemas.errors import BrokerResetError
    from streams.worker.supervise import watch_broker

    answers = iter(["c1", "c1", "c2"])
    health = Health("broker")

    async def cluster_id(timeout_s: float) -> str:
        return next(answers)

    with pytest.raises(BrokerResetError, match=r"answers as cluster 'c2', not 'c1'.*without its log"):
        # The fault limit is long: a reset is not an outage to wait out.
        asyncio.run(watch_broker(health, cluster_id, "c1", limit_s=3600, every_s=0.01))
    assert str(health.of("broker")) == "ok"


def test_a_worker_whose_failure_is_decided_exits_within_the_stop_limit_even_if_its_shutdown_hangs() -> None:
    import subprocess
    import sys

    hung = (
        "import logging, time; from streams.worker.supervise import exit_within;"
        " exit_within(0.3); time.sleep(60)"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", hung], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and time.monotonic() - started < 20
    assert "did not stop within 0.3 s of its failure" in done.stderr
