"""Issue 21, load: thousands of idle connections and slow readers of large answers, on loopback; ingest
goes on and /health answers throughout."""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Any

import orjson

from streams.kafka.broker import LocalBroker
from streams.kafka.topics import INTERCEPTIONS
from streams.worker.datadir import TOKEN_FILE
from tests.helpers.attack import (
    CENTRE,
    GOOD,
    LARGE_ANSWER_SQL,
    health,
    hold_open,
    post_reports,
    still_open,
    tokens_file,
    unread_sql,
)  # fmt: skip
from tests.helpers.kafka_io import send

SOURCES = [f"127.0.0.{n}" for n in range(1, 13)]  # 127.0.0.1 too: the address /health is asked from
SLOW_READERS = 8


def test_idle_connections_and_slow_readers_stop_neither_ingest_nor_health(
    start_worker: Any, broker: LocalBroker, tmp_path: Path
) -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    held_count = min(3000, (soft - 200) // 2)  # this process holds them; keep well within its limit
    assert held_count >= 1000, f"ulimit -n {soft} is too low for this test"
    worker = start_worker(web_tokens_file=tokens_file(tmp_path / "tokens.toml"))
    token = (tmp_path / "data" / TOKEN_FILE).read_text().strip()
    per_source = held_count // len(SOURCES)
    held, readers = [], []
    try:
        for round_no, source in enumerate(SOURCES):
            held += hold_open(worker.base_url, per_source, source)
            assert "healthy" in health(worker.base_url)
            answer = post_reports(worker.base_url, CENTRE, f"load-{round_no}", 10)
            assert all(r["result"] == "accepted" for r in answer["results"]), answer
            if round_no < SLOW_READERS:
                readers.append(unread_sql(worker.base_url, token, LARGE_ANSWER_SQL))
        published = [orjson.dumps({**GOOD, "report_id": f"load-kafka-{i}"}) for i in range(100)]
        assert send(broker, INTERCEPTIONS, published) == 100
        assert "healthy" in health(worker.base_url)
        # Every idle connection is closed by the worker in the end (its header deadline, or a cap).
        assert still_open(held, timeout_s=60) == 0
        assert "healthy" in health(worker.base_url)
    finally:
        for sock in held + readers:
            sock.close()
    expected = len(SOURCES) * 10 + 100
    worker.wait_until(lambda s: s["events"] >= expected)
    rows = worker.sql(
        "SELECT count(), uniqExact(report_id) FROM borderwatch.events WHERE report_id LIKE 'load-%'"
    )
    assert rows == [[expected, expected]]
