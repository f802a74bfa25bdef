"""The worker's ticks settle what no report comes back to: a meeting at sea whose pair went dark for good."""

from __future__ import annotations

import time
from typing import Any

import orjson

from streams.kafka.broker import LocalBroker
from streams.kafka.topics import VESSELS
from tests.helpers import meetings
from tests.helpers.kafka_io import send

QUICK = {  # a meeting of 30 s, compared over 10 s, dark for good after 20 s (nor later reports
    # awaited for longer); looked at every second
    "tick_s": "1", "detect__encounter_min_s": "30", "detect__encounter_max_dt_s": "10",
    "detect__encounter_dark_max_s": "20", "detect__allowed_lateness_s": "20", "detect__gap_check_s": "1",
}  # fmt: skip


def encounters(worker: Any) -> list[list[Any]]:
    return worker.sql("SELECT id, status, description FROM borderwatch.alerts FINAL WHERE kind = 'encounter'")


def wait_for(worker: Any, done: Any, timeout_s: float) -> list[list[Any]]:
    deadline = time.monotonic() + timeout_s
    while not done(rows := encounters(worker)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return rows


def test_a_pair_that_goes_dark_for_good_has_its_encounter_resolved_by_the_ticks(
    broker: LocalBroker, start_worker: Any
) -> None:
    worker = start_worker(**QUICK)
    now = time.time()
    pings = [
        *meetings.moored(meetings.A, now - 60, now, (5.0,)),
        *meetings.moored(meetings.B, now - 59, now, (5.0,), north_m=30),
    ]
    send(broker, VESSELS, [orjson.dumps(r) for r in meetings.reports(pings, noise_m=5.0)])
    opened = wait_for(worker, lambda rows: rows, 60)
    assert [row[1] for row in opened] == ["new"], opened
    # No fix comes again: only a tick reaches their cell.
    ended = wait_for(worker, lambda rows: rows and rows[0][1] == "resolved", 60)
    assert [(row[0], row[1]) for row in ended] == [(opened[0][0], "resolved")], ended
    assert "stayed dark" in ended[0][2]
    # Its news went through the meetings partition's hold: nothing is left waiting there.
    assert worker.status()["detect"]["meeting_findings_held"] == 0
