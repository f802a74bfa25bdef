"""Probes of issue 21 on one real worker (shared: none of them needs a fresh one): the HTTP edge reads
authorities as ingest does, a JSON body is one value, the bucket's size is a 413, /erase refuses duplicate
keys and identities never stored, and audit.log keeps no report."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.client.worker_api import start_worker_process, stop_process, wait_for_worker
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import LocalBroker, free_port, start_local_broker
from streams.kafka.topics import INTERCEPTIONS
from streams.web.tokens import hash_token
from streams.worker.datadir import AUDIT_FILE, TOKEN_FILE
from tests.helpers.kafka_io import read_all
from tests.helpers.workers import Worker

CENTRE, SLOW = "tok-es-gc-0123456789abcdef", "tok-slow-0123456789abcdef"
NOTES = "Ahmed B., born 2001, brother of the skipper"
GOOD = {"authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z", "lat": 35.889, "lon": -5.317,
        "incident_type": "irregular_crossing_attempt", "persons": 3, "notes": NOTES}  # fmt: skip


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    with start_local_broker(tmp_path_factory.mktemp("broker")) as local:
        asyncio.run(ensure_topics(local.url, partitions=2))
        yield local


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory, broker: LocalBroker) -> Iterator[Worker]:
    data_dir = tmp_path_factory.mktemp("data")
    tokens = data_dir.parent / "tokens.toml"
    tokens.write_text(
        f'[[token]]\nname = "ES-GC"\nrole = "centre"\nsha256 = "{hash_token(CENTRE)}"\n\n'
        f'[[token]]\nname = "IT-LMP"\nrole = "centre"\nrate_per_s = 0.05\nsha256 = "{hash_token(SLOW)}"\n'
    )
    port, log = free_port(), data_dir / "worker.log"
    process = start_worker_process(log, kafka=broker.url, data_dir=str(data_dir), web_port=str(port),
                                   worker_id=f"bw-probes-{os.getpid()}", partitions="2",
                                   web_tokens_file=str(tokens))  # fmt: skip
    running = Worker(process, f"http://127.0.0.1:{port}", log)
    try:
        running.api = wait_for_worker(process, running.base_url, data_dir, log)
        yield running
    finally:
        stop_process(process)


def data_dir(worker: Worker) -> Path:
    return worker.log.parent


def call(worker: Worker, path: str, token: str, body: bytes, content_type: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    request = urllib.request.Request(worker.base_url + path, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def post(worker: Worker, body: bytes, content_type: str = "application/x-ndjson", token: str = CENTRE) -> Any:
    return call(worker, "/reports", token, body, content_type)


def local_token(worker: Worker) -> str:
    return (data_dir(worker) / TOKEN_FILE).read_text().strip()


def test_an_authority_named_twice_or_behind_nan_is_refused_and_never_reaches_kafka(
    worker: Worker, broker: LocalBroker
) -> None:
    tail = b'"report_id": "p-dup", "observed_at": "2026-11-22T03:14:00Z", "crossing_id": "ES-CEUTA-LAND", ' \
           b'"incident_type": "other", "persons": 1}'  # fmt: skip
    for line in (
        b'{"authority": "MA-NADOR", "authority": "ES-GC", ' + tail,  # ingest would read ES-GC
        b'{"authority": "ES-GC", "authority": "MA-NADOR", ' + tail,
        b'{"authority": "ES-GC", "lat": NaN, "lon": 1.0, ' + tail,
    ):
        status, answer = post(worker, line)
        assert status == 403 and answer["results"][0]["reason"] == "authority_mismatch", answer
    sent = [r.value for r in asyncio.run(read_all(broker.url, INTERCEPTIONS, quiet_s=2.0))]
    assert not [v for v in sent if b"p-dup" in v]


def test_a_pretty_printed_json_report_is_one_report_and_is_stored(worker: Worker) -> None:
    pretty = orjson.dumps({**GOOD, "report_id": "p-pretty"}, option=orjson.OPT_INDENT_2)
    status, answer = post(worker, pretty, "application/json")
    assert (status, answer["results"]) == (202, [{"line": 1, "result": "accepted"}])
    worker.wait_until(lambda s: s["events"] >= 1)
    assert worker.sql("SELECT count() FROM borderwatch.events WHERE report_id = 'p-pretty'") == [[1]]


def test_more_reports_than_the_bucket_holds_is_413_naming_its_size(worker: Worker) -> None:
    lines = [orjson.dumps({**GOOD, "authority": "IT-LMP", "report_id": f"p-{n}"}) for n in range(4)]
    status, answer = post(worker, b"\n".join(lines), token=SLOW)  # 0.05/s: the bucket holds 3
    assert status == 413 and answer["bucket_size"] == 3 and "at most 3" in answer["error"], answer


def test_erase_refuses_duplicate_keys_and_an_identity_never_stored_unless_a_tombstone_is_asked(
    worker: Worker,
) -> None:
    token = local_token(worker)
    twice = b'{"authority": "ES-GC", "report_id": "p-pretty", "report_id": "nothing"}'
    assert call(worker, "/erase", token, twice, "application/json")[0] == 400
    never = orjson.dumps({"authority": "ES-GC", "report_id": "p-never"})
    status, answer = call(worker, "/erase", token, never, "application/json")
    assert status == 404 and "was ever stored" in answer["error"]
    env = {**os.environ, "BORDERWATCH_DATA_DIR": str(data_dir(worker))}
    cli = [sys.executable, "-m", "streams.cli", "erase", "--authority", "ES-GC", "--report-id", "p-never2"]
    refused = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "--tombstone" in refused.stderr, refused.stderr
    done = subprocess.run([*cli, "--tombstone"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout)["erased"]["events"] == 0, done.stderr
    assert worker.sql("SELECT count() FROM borderwatch.erased WHERE report_id = 'p-never2'") == [[1]]


def test_audit_log_holds_counts_and_ids_never_a_report(worker: Worker) -> None:
    assert post(worker, orjson.dumps({**GOOD, "report_id": "p-audit"}))[0] == 202
    worker.wait_until(lambda s: s["events"] >= 2)
    erase = orjson.dumps({"authority": "ES-GC", "report_id": "p-audit"})
    assert call(worker, "/erase", local_token(worker), erase, "application/json")[0] == 200
    text = (data_dir(worker) / AUDIT_FILE).read_text()
    assert NOTES not in text and "observed_at" not in text
    entries = [json.loads(line.split(" ", 2)[2]) for line in text.splitlines()]
    reports = [e for e in entries if e["path"] == "/reports" and e["status"] == 202]
    assert reports and all(e["body"] == "" and e["summary"]["accepted"] >= 1 for e in reports)
    (erased,) = [e for e in entries if e["path"] == "/erase" and e["status"] == 200 and
                 e["summary"]["report_id"] == "p-audit"]  # fmt: skip
    assert erased["summary"]["erased"]["events"] == 1
