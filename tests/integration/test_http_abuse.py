"""The worker's HTTP API under attack: no token, foreign pages, and analyst SQL that tries to escape."""

from __future__ import annotations

import socket
import stat
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from streams.kafka.broker import LocalBroker
from streams.kafka.topics import INTERCEPTIONS
from streams.worker.datadir import TOKEN_FILE
from tests.helpers.http import request
from tests.helpers.kafka_io import send
from tests.helpers.workers import IdleWorker, Worker

GOOD = {
    "authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z", "lat": 35.889, "lon": -5.317,
    "incident_type": "irregular_crossing_attempt", "persons": 3,
}  # fmt: skip


def reports(prefix: str, n: int) -> list[bytes]:
    return [orjson.dumps({**GOOD, "report_id": f"{prefix}-{i}"}) for i in range(n)]


def test_every_endpoint_needs_the_token_and_refuses_foreign_pages(idle_worker: IdleWorker) -> None:
    worker, data_dir = idle_worker.worker, idle_worker.data_dir
    token = (data_dir / TOKEN_FILE).read_text().strip()
    auth = {"Authorization": f"Bearer {token}"}
    sql = orjson.dumps({"sql": "SELECT 1"})
    for path in ("/status", "/counts", "/alerts"):
        assert request(worker, path, {}) == 401
        assert request(worker, path, {"Authorization": "Bearer wrong"}) == 401
        assert request(worker, path, auth) == 200
    assert request(worker, "/sql", {"Content-Type": "application/json"}, sql) == 401
    assert request(worker, "/sql", {**auth, "Content-Type": "application/json"}, sql) == 200
    # The attack from a web page: a simple text/plain POST with a foreign Origin.
    evil = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    assert request(worker, "/sql", evil, b"SELECT 1") == 403
    assert request(worker, "/sql", {**auth, **evil}, b"SELECT 1") == 403
    assert request(worker, "/sql", {**auth, "Content-Type": "text/plain"}, b"SELECT 1") == 415
    # DNS rebinding: the page's own host name pointed at 127.0.0.1.
    assert request(worker, "/status", {**auth, "Host": "evil.example:6066"}) == 421
    # Faust's own pages (tables, router) are not served; /health is open to supervisors.
    assert request(worker, "/table/vessels/", auth) == 404
    assert request(worker, "/router/", auth) == 404
    worker.wait_until(lambda s: all(state == "ok" for state in s["health"].values()))
    assert request(worker, "/health", {}) == 200

    # The data dir and everything in it are private to the worker's user.
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / TOKEN_FILE).stat().st_mode) == 0o600
    shared = [p for p in data_dir.rglob("*") if not p.is_symlink() and p.stat().st_mode & 0o077]
    assert shared == []


def refused(worker: Worker, query: str) -> str:
    assert worker.api is not None
    answer = worker.api.sql(query)
    assert "error" in answer, (query, answer)
    return str(answer["error"])


def test_analyst_sql_cannot_escape_and_ingest_goes_on(
    broker: LocalBroker, start_worker: Any, tmp_path: Path
) -> None:
    worker = start_worker(analyst__max_execution_s="5")
    sent = send(broker, INTERCEPTIONS, reports("A", 1000))
    worker.wait_until(lambda s: s["events"] == sent)

    written = tmp_path / "written.txt"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        for query in (
            "SELECT * FROM file('/etc/passwd', 'RawBLOB')",
            f"SELECT file('{tmp_path / 'data' / TOKEN_FILE}')",
            "SELECT * FROM file('/proc/self/environ', 'RawBLOB')",
            f"INSERT INTO FUNCTION file('{written}', 'RawBLOB') SELECT 'x'",
            f"SELECT * FROM url('http://127.0.0.1:{port}/x', 'RawBLOB')",
            f"INSERT INTO FUNCTION url('http://127.0.0.1:{port}/x', 'JSONEachRow') SELECT * FROM events",
            "SET max_execution_time = 1",
            "SELECT count() FROM events SETTINGS readonly = 0",
            "SELECT 1; SELECT 2",
            "SELECT * FROM system.users",
            "SELECT count() FROM numbers(1e12)",
            "DROP TABLE borderwatch.events",
        ):
            refused(worker, query)
        try:
            listener.accept()
            raise AssertionError("the worker connected to a URL from an analyst query")
        except TimeoutError:
            pass
    assert not written.exists()

    # Nothing above changed ingest's session: reports still go in, and settings did not stick.
    sent += send(broker, INTERCEPTIONS, reports("B", 100))
    worker.wait_until(lambda s: s["events"] == sent)
    assert worker.sql("SELECT count() FROM events") == [[sent]]

    # A result too large for the limits is refused instead of filling the worker's memory.
    assert "TOO_MANY_ROWS_OR_BYTES" in refused(worker, "SELECT a.report_id FROM events AS a, events AS b")

    # An expensive query runs out its time limit while ingest goes on beside it.
    answer: dict[str, Any] = {}
    heavy = "SELECT count() FROM events AS a, events AS b, events AS c, events AS d WHERE a.persons > 0"
    assert worker.api is not None
    api = worker.api
    query = threading.Thread(target=lambda: answer.update(api.sql(heavy)))
    query.start()
    time.sleep(0.5)
    sent += send(broker, INTERCEPTIONS, reports("C", 200))
    worker.wait_until(lambda s: s["events"] == sent, timeout_s=30)
    assert query.is_alive(), f"the heavy query ended before ingest caught up: {answer}"
    query.join()
    assert "TIMEOUT_EXCEEDED" in answer["error"]
    assert worker.process.poll() is None
