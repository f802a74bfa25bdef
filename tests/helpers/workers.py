"""Fixtures and helpers: `borderwatch worker` child processes on a test's broker and data dir."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from schemas.errors import WorkerNotRunningError
from streams.client.worker_api import WorkerApi, start_worker_process, stop_process, wait_for_worker
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import LocalBroker, free_port, start_local_broker
from streams.web.tls import pinned_client_context

_ids = itertools.count()


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


def new_worker_id() -> str:
    """A Faust app id (and consumer group prefix) no other worker of the test session uses."""
    return f"bw-test-{os.getpid()}-{next(_ids)}"


def launch(kafka: str, data_dir: Path, worker_id: str, log: Path, **env: str) -> Worker:
    """Start a worker and wait until it answers /status.

    A free port can be taken between `free_port()` and the worker's bind (by another test
    process, or as the ephemeral port of an outgoing connection): then it starts again on another.
    """
    for attempt in itertools.count(1):
        try:
            return _launch_on(free_port(), kafka, data_dir, worker_id, log, **env)
        except WorkerNotRunningError as error:
            if attempt == 3 or "address already in use" not in str(error):
                raise
    raise AssertionError("unreachable")


def _launch_on(port: int, kafka: str, data_dir: Path, worker_id: str, log: Path, **env: str) -> Worker:
    settings = {"partitions": "2", **env}
    process = start_worker_process(
        log, kafka=kafka, data_dir=str(data_dir), web_port=str(port), worker_id=worker_id, **settings
    )
    cert = env.get("web_tls_cert_file")
    tls = pinned_client_context(Path(cert)) if cert else None
    worker = Worker(process, f"{'https' if cert else 'http'}://127.0.0.1:{port}", log, worker_id)
    try:
        worker.api = wait_for_worker(process, worker.base_url, data_dir, log, tls=tls)
    except BaseException:
        stop_process(process)
        raise
    return worker


@pytest.fixture
def start_worker(tmp_path: Path, broker: LocalBroker) -> Iterator[Callable[..., Worker]]:
    """Start workers on this test's broker and chdb dir (tmp_path / "data"); all are stopped at the end.

    The workers of one test share their worker id, as a restarted worker does.
    """
    started: list[Worker] = []
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    worker_id = new_worker_id()

    def start(**env: str) -> Worker:
        log = data_dir / f"worker-{len(started)}.log"
        worker = launch(broker.url, data_dir, worker_id, log, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:  # all asked at once: each takes about 2 s to stop
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
    for worker in started:
        worker.stop()


@dataclass
class IdleWorker:
    """A worker that no test sends data to, and its data dir (the CLI's BORDERWATCH_DATA_DIR)."""

    worker: Worker
    data_dir: Path


@pytest.fixture(scope="session")
def idle_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdleWorker]:
    """One worker, shared by the tests that only call its API and send it no reports.

    It has a Tansu of its own: the shared one is emptied for each test (tests/helpers/broker.py).
    A file with a test that uses it belongs in tests/helpers/scheduling.py's "idle_worker" group, so
    the tests sharing it run in one test process.
    """
    import asyncio

    root = tmp_path_factory.mktemp("idle")
    data_dir = root / "data"
    data_dir.mkdir()
    with start_local_broker(root / "broker") as local:
        asyncio.run(ensure_topics(local.url, partitions=2))
        worker = launch(local.url, data_dir, new_worker_id(), data_dir / "worker.log")
        try:
            yield IdleWorker(worker, data_dir)
        finally:
            worker.stop()
