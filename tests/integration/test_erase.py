"""`borderwatch erase` against a running worker: the report goes, its counts follow, a resend stays out,
and /erase refuses what is not a report identity."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from streams.kafka.broker import LocalBroker
from streams.kafka.topics import INTERCEPTIONS
from streams.worker.datadir import TOKEN_FILE
from tests.helpers.http import request
from tests.helpers.kafka_io import send
from tests.helpers.workers import IdleWorker

REPORT = {
    "authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z", "lat": 35.889, "lon": -5.317,
    "incident_type": "irregular_crossing_attempt", "persons": 4, "notes": "the skipper's name",
}  # fmt: skip


def erase(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BORDERWATCH_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "streams.cli", "erase", *args], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def totals(worker: Any) -> list[list[Any]]:
    return worker.sql(
        "SELECT (SELECT count() FROM borderwatch.events), "
        "(SELECT sum(reports) FROM borderwatch.crossing_counts), "
        "(SELECT sum(persons) FROM borderwatch.crossing_counts)"
    )


def test_an_erased_report_goes_its_counts_follow_and_a_resend_stays_out(
    broker: LocalBroker, start_worker: Any, tmp_path: Path
) -> None:
    worker = start_worker()
    lines = [orjson.dumps({**REPORT, "report_id": f"e-{n}"}) for n in range(3)]
    send(broker, INTERCEPTIONS, lines)
    worker.wait_until(lambda s: s["events"] >= 3)
    assert totals(worker) == [[3, 3, 12]]

    done = erase(tmp_path / "data", "--authority", "ES-GC", "--report-id", "e-1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["erased"]["events"] == 1
    assert totals(worker) == [[2, 2, 8]]
    assert worker.sql("SELECT report_id FROM borderwatch.events ORDER BY 1") == [["e-0"], ["e-2"]]

    before = worker.status()["duplicates"]
    send(broker, INTERCEPTIONS, [lines[1]])  # the erased report, sent again
    worker.wait_until(lambda s: s["duplicates"] > before)
    assert totals(worker) == [[2, 2, 8]]

    refused = erase(tmp_path / "data", "--authority", "ES-GC", "--report-id", "bad\x01id")
    assert refused.returncode == 2 and "not a report identity" in refused.stderr


def test_erase_takes_only_a_report_identity_with_the_token(idle_worker: IdleWorker) -> None:
    worker = idle_worker.worker
    token = (idle_worker.data_dir / TOKEN_FILE).read_text().strip()
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = orjson.dumps({"authority": "ES-GC", "report_id": "x"})
    assert request(worker, "/erase", {"Content-Type": "application/json"}, body) == 401
    assert request(worker, "/erase", {"Authorization": auth["Authorization"]}) == 405  # a GET
    assert request(worker, "/erase", {**auth, "Content-Type": "text/plain"}, body) == 415
    hostile_bodies = (
        b"not json", b"[]", b'{"authority": "ES-GC"}', b'{"authority": "ES-GC", "report_id": "x", "sql": 1}',
        b'{"authority": "ES-GC", "report_id": "x\\u0000"}', b'{"authority": 1, "report_id": "x"}',
        orjson.dumps({"authority": "A" * 300, "report_id": "x"}),
    )  # fmt: skip
    for hostile in hostile_bodies:
        assert request(worker, "/erase", auth, hostile) == 400, hostile
    # A long name is refused by the model; a body over the 16 MiB request limit by aiohttp.
    assert request(worker, "/erase", auth, b'{"authority": "' + b"A" * 3_000_000 + b'"}') == 400
    assert request(worker, "/erase", auth, b'{"authority": "' + b"A" * 17_000_000 + b'"}') == 413
    assert request(worker, "/erase", auth, body) == 404  # never stored: refused, unless a tombstone is asked
    tombstone = body[:-1] + b', "tombstone": true}'
    assert request(worker, "/erase", auth, tombstone) == 200
    worker.wait_until(lambda s: all(state == "ok" for state in s["health"].values()))
