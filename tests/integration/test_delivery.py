"""Durable delivery: alerts raised before a kill -9 reach a centre whose endpoint was down, in order,
and that centre holds up no other."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from schemas.alerts import Alert
from streams.delivery.signing import (
    IDEMPOTENCY_KEY_HEADER,
    ReplayGuard,
    Verdict,
    idempotency_key,
    verify_delivery,
)
from streams.demo.scenario import build_scenario, default_start
from streams.kafka.broker import LocalBroker
from streams.kafka.topics import ALERTS, ALERTS_DLQ, INTERCEPTIONS, VESSELS
from tests.helpers.kafka_io import read_all, send
from tests.helpers.webhooks import SECRET, Endpoint


def test_alerts_raised_before_a_kill_reach_a_centre_that_was_down_in_order_once_it_is_back(
    tmp_path: Path, broker: LocalBroker, start_worker: Any
) -> None:
    scenario = build_scenario(default_start(), partitions=2)
    endpoint, other = Endpoint(), Endpoint()
    other.up()  # another centre, answering all along: the one that is down must not hold it up
    subscriptions = tmp_path / "subscriptions.toml"
    subscriptions.write_text(
        f"""
[[subscription]]
centre = "ES-NCC"
webhook = "http://127.0.0.1:{endpoint.port}/hook"
secret = "{SECRET}"
backoff_s = 0.2
backoff_max_s = 2

[[subscription]]
centre = "PT-NCC"
webhook = "http://127.0.0.1:{other.port}/hook"
secret = "{SECRET}"
"""
    )
    watch = tmp_path / "watch.csv"
    watch.write_text(scenario.watch_list_csv)
    env = {"subscriptions": str(subscriptions), "watch_list": str(watch)}
    worker = start_worker(**env)
    send(broker, INTERCEPTIONS, scenario.interceptions)
    send(broker, VESSELS, scenario.vessels)

    def groups() -> set[str]:
        return {row[0].rsplit(":", 1)[0] for row in worker.sql("SELECT id FROM borderwatch.alerts FINAL")}

    deadline = time.monotonic() + 120
    while groups() != scenario.expected_groups and time.monotonic() < deadline:
        time.sleep(1)
    assert groups() == scenario.expected_groups
    retrying = worker.status()["delivery"]["retrying"]
    assert "ES-NCC" in retrying and "ClientConnectorError" in retrying["ES-NCC"], retrying
    raised = [Alert.model_validate_json(r.value) for r in asyncio.run(read_all(broker.url, ALERTS))]
    raised_keys = {idempotency_key(a.id, a.version) for a in raised if a.notify}
    deadline = time.monotonic() + 60
    while {h[IDEMPOTENCY_KEY_HEADER] for h, _ in other.received} < raised_keys:
        assert time.monotonic() < deadline, "a centre that is down held up another"
        time.sleep(0.5)
    other.down()
    worker.kill()  # every delivery is still pending: the endpoint has been down all along

    worker = start_worker(**env)
    time.sleep(5)  # the restarted worker retries against the closed port a while longer
    endpoint.up()
    try:
        records = asyncio.run(read_all(broker.url, ALERTS))
        states = [Alert.model_validate_json(r.value) for r in records]
        wanted = {idempotency_key(a.id, a.version) for a in states if a.notify}
        deadline = time.monotonic() + 120
        while {h[IDEMPOTENCY_KEY_HEADER] for h, _ in endpoint.received} < wanted:
            assert time.monotonic() < deadline, "not every alert was delivered"
            time.sleep(0.5)
        time.sleep(2)  # nothing more comes
    finally:
        endpoint.down()
    keys = [h[IDEMPOTENCY_KEY_HEADER] for h, _ in endpoint.received]
    assert set(keys) == wanted and len(wanted) >= len(scenario.expected_groups)
    # In order: within each partition of `alerts`, first deliveries follow the offsets.
    position: dict[str, tuple[int, int]] = {}
    for r in records:
        alert = Alert.model_validate_json(r.value)
        position.setdefault(idempotency_key(alert.id, alert.version), (r.partition, r.offset))
    delivered = [position[key] for key in dict.fromkeys(keys)]
    for partition in {p for p, _ in delivered}:
        offsets = [o for p, o in delivered if p == partition]
        assert offsets == sorted(offsets), (partition, offsets)
    assert len({p for p, _ in delivered}) == 2
    guard = ReplayGuard()
    verdicts = {verify_delivery(SECRET, h, b, time.time(), guard) for h, b in endpoint.received}
    assert verdicts <= {Verdict.ACCEPTED, Verdict.REPLAYED} and Verdict.ACCEPTED in verdicts
    assert worker.status()["delivery"]["failed"].get("ES-NCC", 0) == 0
    assert asyncio.run(read_all(broker.url, ALERTS_DLQ)) == []
