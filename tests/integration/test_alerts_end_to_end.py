"""End to end: a replay with embedded anomalies raises exactly the expected alerts, delivered signed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.alerts import Alert
from streams.delivery.signing import ReplayGuard, Verdict, verify_delivery
from streams.demo.scenario import build_scenario, default_start
from streams.kafka.broker import LocalBroker
from streams.kafka.topics import ALERTS_DLQ, INTERCEPTIONS, VESSELS
from tests.helpers.cap import CAP_SCHEMA
from tests.helpers.cli import run
from tests.helpers.kafka_io import read_topic, send

SECRET = "s3cret-shared-with-es-ncc"


class Receiver:
    """A coordination centre's webhook endpoint: /ok answers 204, /fail always 500."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((self.path, dict(self.headers), body))
                self.send_response(204 if self.path == "/ok" else 500)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def posts(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for p, h, b in self.received if p == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_replay_with_anomalies_raises_exactly_the_expected_alerts(
    tmp_path: Path, broker: LocalBroker, start_worker: Any, receiver: Receiver
) -> None:
    scenario = build_scenario(default_start(), partitions=2)
    watch = tmp_path / "watch.csv"
    watch.write_text(scenario.watch_list_csv)
    subscriptions = tmp_path / "subscriptions.toml"
    subscriptions.write_text(
        f"""
[[subscription]]
centre = "ES-NCC"
webhook = "{receiver.url}/ok"
secret = "{SECRET}"

[[subscription]]
centre = "IT-NCC"
webhook = "{receiver.url}/fail"
secret = "other"
kinds = ["surge"]
routes = ["Central Mediterranean"]
format = "cap"
max_attempts = 3
backoff_s = 0.05
backoff_max_s = 0.2

[[subscription]]
centre = "MAOC-N"
topic = "alerts.maoc-n"
kinds = ["encounter", "vessel_of_interest"]
min_impact = "high"
"""
    )
    worker = start_worker(watch_list=str(watch), subscriptions=str(subscriptions))
    send(broker, INTERCEPTIONS, scenario.interceptions)
    send(broker, VESSELS, scenario.vessels)

    def groups() -> set[str]:
        rows = worker.sql("SELECT id FROM borderwatch.alerts FINAL")
        return {row[0].rsplit(":", 1)[0] for row in rows}

    deadline = time.monotonic() + 120
    while groups() != scenario.expected_groups and time.monotonic() < deadline:
        time.sleep(1)
    assert groups() == scenario.expected_groups
    time.sleep(3)  # nothing else turns up afterwards
    assert groups() == scenario.expected_groups

    gap = worker.sql("SELECT status, description FROM borderwatch.alerts FINAL WHERE kind = 'ais_gap'")
    assert (
        gap[0][0] == "resolved" and "reappeared after 7.0 h, 2.5 km" in gap[0][1]
    )  # 4,500 m north, back at 2,000 m

    # The CLI lists them through the worker, and renders one as CAP 1.2 valid against the official schema.
    listed = run(["alerts", "--kind", "surge"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "surge:IT-LAMPEDUSA" in listed.stdout and "ais_gap" not in listed.stdout
    surge_id = worker.sql("SELECT id FROM borderwatch.alerts FINAL WHERE zone_id = 'IT-LAMPEDUSA'")[0][0]
    cap = run(["alerts", "cap", surge_id], tmp_path)
    assert cap.returncode == 0, cap.stderr
    CAP_SCHEMA.validate(cap.stdout)
    assert "<severity>Extreme</severity>" in cap.stdout
    missing = run(["alerts", "cap", "surge:nowhere:0"], tmp_path)
    assert missing.returncode == 2 and "no alert with id" in missing.stderr

    # One incident, one alert: the surge the mass attempt makes at Ceuta is stored, muted and linked to it.
    (ceuta,) = worker.sql(
        "SELECT notify, description FROM borderwatch.alerts FINAL WHERE id LIKE 'surge:ES-CEUTA-LAND:%'"
    )
    assert ceuta[0] is False and "part of the incident mass_attempt:ES-CEUTA-LAND" in ceuta[1]
    notifying = scenario.expected_groups - {"surge:ES-CEUTA-LAND"}

    # ES-NCC gets every notifying alert state, signed.
    deadline = time.monotonic() + 30
    while {Alert.model_validate_json(b).id.rsplit(":", 1)[0] for _, b in receiver.posts("/ok")} != (
        notifying
    ) and time.monotonic() < deadline:
        time.sleep(0.5)
    posts = receiver.posts("/ok")
    assert {Alert.model_validate_json(b).id.rsplit(":", 1)[0] for _, b in posts} == notifying
    now = int(time.time())
    for headers, body in posts:
        guard = ReplayGuard()
        assert verify_delivery(SECRET, headers, body, now, guard) is Verdict.ACCEPTED
        assert verify_delivery(SECRET, headers, body, now, guard) is Verdict.REPLAYED
        assert verify_delivery("wrong", headers, body, now, ReplayGuard()) is Verdict.BAD_SIGNATURE

    # MAOC-N takes its alerts from a Kafka topic: only the kinds it asked for.
    on_topic = asyncio.run(read_topic(broker.url, "alerts.maoc-n", 2))  # one state of each group
    kinds = {Alert.model_validate_json(r.value).kind.value for r in on_topic}
    assert kinds == {"encounter", "vessel_of_interest"}

    # IT-NCC's endpoint fails: 3 tries of the Lampedusa surge's first state, then alerts.dlq.
    letters = asyncio.run(read_topic(broker.url, ALERTS_DLQ, 1))
    letter = orjson.loads(letters[0].value)
    assert (letter["centre"], letter["attempts"]) == ("IT-NCC", 3)
    assert "500" in letter["error"] and letter["alert"]["zone_id"] == "IT-LAMPEDUSA"
    failed = [b for _, b in receiver.posts("/fail")]
    assert len(failed) >= 3 and all(b.startswith(b"<?xml") for b in failed)
