"""Real parts for integration tests: a Tansu broker and workers on chdb, started here."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from streams.client.worker_api import (
    WorkerApi,
    start_worker_process,
    stop_process,
    wait_for_worker,
)
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import LocalBroker, free_port, start_local_broker
from streams.kafka.security import Brokers
from streams.sources.replay import replay_lines
from streams.web.tls import pinned_client_context

_ids = itertools.count()
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is an integration test (a conftest's `pytestmark` marks nothing)."""
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)


@dataclass
class Worker:
    """A `borderwatch worker` child process and how to reach it."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path
    worker_id: str = ""
    api: WorkerApi | None = None

    def status(self) -> dict[str, Any]:
        assert self.api is not None
        status = self.api.get("/status") or {}
        return {} if "error" in status else status

    def sql(self, query: str) -> list[list[Any]]:
        assert self.api is not None
        answer = self.api.sql(query)
        assert "error" not in answer, answer
        return list(answer["rows"])

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        stop_process(self.process)

    def wait_until(self, done: Any, timeout_s: float = 180) -> dict[str, Any]:
        """Poll /status until done(status) holds; fail with the log's tail otherwise."""
        deadline = time.monotonic() + timeout_s
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            status = self.status()
            if status and done(status):
                return status
            time.sleep(0.25)
        raise AssertionError(f"timed out; last status {status}; log:\n{self.log.read_text()[-3000:]}")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A fresh Tansu broker per test, with borderwatch's topics."""
    with start_local_broker(tmp_path / "broker") as local:
        asyncio.run(ensure_topics(local.url, partitions=2))
        yield local


@pytest.fixture
def start_worker(tmp_path: Path, broker: LocalBroker) -> Iterator[Any]:
    """Start workers on this test's broker and chdb dir; all are stopped at the end."""
    started: list[Worker] = []
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    worker_id = f"bw-test-{os.getpid()}-{next(_ids)}"

    def start(**env: str) -> Worker:
        port = free_port()
        log = data_dir / f"worker-{len(started)}.log"
        settings = {"partitions": "2", **env}
        process = start_worker_process(
            log, kafka=broker.url, data_dir=str(data_dir), web_port=str(port), worker_id=worker_id, **settings
        )
        cert = env.get("web_tls_cert_file")
        tls = pinned_client_context(Path(cert)) if cert else None
        worker = Worker(process, f"{'https' if cert else 'http'}://127.0.0.1:{port}", log, worker_id)
        started.append(worker)
        worker.api = wait_for_worker(process, worker.base_url, data_dir, log, tls=tls)
        return worker

    yield start
    for worker in started:
        worker.stop()


async def read_topic(url: Brokers, topic: str, count: int, timeout_s: float = 60) -> list[Any]:
    """The first `count` records of a topic (all partitions), or fail after timeout_s."""
    consumer = _reader(url, topic)
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(records) < count:
                batch = await consumer.getmany(timeout_ms=1000)
                for partition_records in batch.values():
                    records += partition_records
    finally:
        await consumer.stop()
    return records


async def read_all(url: Brokers, topic: str, quiet_s: float = 3.0) -> list[Any]:
    """Every record of a topic: read until nothing more comes for quiet_s."""
    consumer = _reader(url, topic)
    await consumer.start()
    records: list[Any] = []
    try:
        while batch := await consumer.getmany(timeout_ms=int(quiet_s * 1000)):
            for partition_records in batch.values():
                records += partition_records
    finally:
        await consumer.stop()
    return records


def _reader(url: Brokers, topic: str) -> Any:
    from aiokafka import AIOKafkaConsumer

    from streams.kafka.security import as_connection
    from streams.kafka.topics import MAX_MESSAGE_BYTES

    return AIOKafkaConsumer(
        topic,
        **as_connection(url).client_kwargs(),
        max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )


def send(broker: LocalBroker, topic: str, lines: list[bytes]) -> int:
    """Produce lines to a topic on the test broker."""
    return asyncio.run(replay_lines(iter(lines), topic, broker.url))
