"""Three process workers and a sink on 8 partitions: a worker killed for good, the sink killed and
restarted, and the counts are still exact, with plain count() on events and rejects."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scripts.make_sample_feed import generate
from streams.demo.scenario import DARK
from streams.kafka.broker import LocalBroker
from streams.kafka.topics import INTERCEPTIONS, VESSELS
from tests.helpers.broker import empty_broker
from tests.helpers.counts import stored_counts
from tests.helpers.kafka_io import send
from tests.helpers.vessels import fix
from tests.helpers.workers import Worker

PARTITIONS = "8"


@pytest.fixture
def broker(shared_tansu: LocalBroker) -> LocalBroker:
    """The shared Tansu, emptied, with 8 partitions per topic (overrides tests/helpers/broker.py's 2)."""
    asyncio.run(empty_broker(shared_tansu.url, partitions=int(PARTITIONS)))
    return shared_tansu


def wait_for(what: str, done: Any, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


@pytest.mark.slow  # 50,000 reports through five processes: a minute and a half here
def test_three_workers_and_a_sink_stay_exact_through_a_lost_worker_and_a_sink_restart(
    broker: LocalBroker, start_worker: Any
) -> None:
    feed = generate(scale=230, vessels=0)
    reports, _ = feed.expected_totals()
    assert reports >= 50_000 and feed.resends > 500
    sink = start_worker(role="sink", partitions=PARTITIONS)
    workers: list[Worker] = [
        start_worker(role="process", partitions=PARTITIONS, batch_size="500") for _ in range(3)
    ]
    sent = send(broker, INTERCEPTIONS, feed.interceptions)

    def stored() -> int:
        return int(sink.status().get("events", 0))

    wait_for("a quarter of the reports", lambda: stored() >= reports // 4)
    assert workers[0].status()["processed"] > 0, "the first worker had no partitions"
    workers[0].kill()  # and never restarted: the other two take its partitions

    wait_for("half of the reports", lambda: stored() >= reports // 2)
    sink.kill()
    sink = start_worker(role="sink", partitions=PARTITIONS)
    assert stored() < reports, "the replay was over before the sink could be killed"

    sink.wait_until(lambda s: s["events"] >= reports and s["rejects"] >= feed.bad_lines, timeout_s=600)
    time.sleep(3)  # nothing more turns up
    assert stored_counts(sink) == feed.expected
    plain = sink.sql(
        "SELECT (SELECT count() FROM borderwatch.events), (SELECT count() FROM borderwatch.rejects)"
    )
    assert plain == [[reports, feed.bad_lines]]
    handled = sum(w.status().get("processed", 0) for w in workers[1:])
    assert handled > 0 and sent == len(feed.interceptions)


def test_a_gap_that_opened_on_a_killed_worker_is_reported_by_the_worker_that_takes_over(
    broker: LocalBroker, start_worker: Any
) -> None:
    # A live vessel falls silent on worker A, and A dies before the silence is long enough.
    # Only ticks reach its partition afterwards: the successor needs A's clock, not only its tables.
    fast = {"detect__gap_s": "40", "detect__gap_check_s": "1", "tick_s": "1", "partitions": PARTITIONS}
    sink = start_worker(role="sink", **fast)
    workers = [start_worker(role="process", **fast) for _ in range(2)]
    now = datetime.now(UTC)
    send(broker, VESSELS, [fix(DARK, now - timedelta(seconds=s), 35.99, -5.45) for s in (20, 10, 0)])
    wait_for("the fixes", lambda: sum(w.status().get("detect", {}).get("fixes", 0) for w in workers) >= 3)
    (owner,) = [w for w in workers if w.status()["detect"]["fixes"] >= 3]
    (successor,) = [w for w in workers if w is not owner]
    time.sleep(8)  # Faust commits the fixes' offsets (every 2.8 s): the successor will not read them again
    owner.kill()
    assert sink.sql("SELECT count() FROM borderwatch.alerts") == [[0]]

    query = "SELECT kind, vessel_ids FROM borderwatch.alerts FINAL"
    wait_for("the gap alert", lambda: bool(sink.sql(query)), timeout_s=120)
    assert sink.sql(query) == [["ais_gap", [f"mmsi:{DARK}"]]]
    assert successor.status()["detect"]["alerts"] >= 1
