"""Issue 21, point 3: analyst answers are bounded in memory and time, whatever the query."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from streams.worker.datadir import TOKEN_FILE
from tests.helpers.attack import LARGE_ANSWER_SQL, health, unread_sql

# Quadratic work inside one block: ClickHouse checks its time limit (and KILL QUERY) between blocks only.
RUNAWAYS = [
    "SELECT hasAll(range(1500000), range(1500000))",  # 132 s measured
    "SELECT arrayLevenshteinDistance(range(150000), range(1, 150001))",  # 30,000 elements: 1.9 s
    # A 2 MB needle in a 4 MB haystack that nearly matches everywhere: over 25 s measured.
    "SELECT position(concat(repeat('ab', 1000000), repeat('ab', 1000000)), "
    "concat(repeat('ab', 1000000), 'c'))",
]
HUGE = "SELECT repeat(char(1), 650000) AS s FROM (SELECT arrayJoin(range(100)) AS n)"  # 390 MB as JSON


def test_a_query_past_its_limit_is_abandoned_and_frees_the_api(start_worker: Any) -> None:
    worker = start_worker(
        analyst__max_execution_s="3", analyst__abandon_after_s="1", analyst__max_abandoned=str(len(RUNAWAYS))
    )
    assert worker.api is not None
    for n, query in enumerate(RUNAWAYS, 1):
        answer = worker.api.sql(query)
        assert answer["status"] == 504 and "abandoned" in answer["error"], answer
        # Its slot is free: the API answers while the abandoned query still works on.
        assert "healthy" in health(worker.base_url)
        if n < len(RUNAWAYS):
            assert isinstance(worker.api.get("/counts"), list)
    # As many abandoned queries as allowed still run: the next query gets a 503 meanwhile.
    busy = worker.api.sql("SELECT 1")
    assert busy["status"] == 503 and "abandoned" in busy["error"], busy
    assert "healthy" in health(worker.base_url)


def test_answers_are_capped_and_hold_their_slot_until_sent(start_worker: Any, tmp_path: Path) -> None:
    worker = start_worker(analyst__answer_send_s="120")
    assert worker.api is not None
    too_large = worker.api.sql(HUGE)
    assert too_large["status"] == 422 and "MAX_ANSWER_BYTES" in too_large["error"], too_large
    token = (tmp_path / "data" / TOKEN_FILE).read_text().strip()
    slots = 5  # max_waiting 4 + the running one
    readers = [unread_sql(worker.base_url, token, LARGE_ANSWER_SQL) for _ in range(slots)]
    try:
        assert all(_status_line(reader) == b"HTTP/1.1 200 OK" for reader in readers)
        # Each answer is still being sent to a client that does not read: every slot is taken.
        busy = worker.api.sql("SELECT 1")
        assert busy["status"] == 503, busy
        assert "healthy" in health(worker.base_url)
    finally:
        for reader in readers:
            reader.close()
    # Gone readers free their slots.
    assert worker.api.sql("SELECT 1")["rows"] == [[1]]


def _status_line(sock: socket.socket) -> bytes:
    sock.settimeout(60)
    return sock.recv(64).split(b"\r\n", 1)[0]
