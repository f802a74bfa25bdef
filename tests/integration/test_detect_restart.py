"""Detector state lives in Faust tables with changelogs: a restarted worker resumes it."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from streams.demo.scenario import DARK, default_start, same_partition_mmsi
from streams.kafka.broker import LocalBroker
from streams.kafka.topics import VESSELS
from tests.helpers.kafka_io import send
from tests.helpers.vessels import fix


def test_a_gap_that_opened_before_the_restart_is_reported_after_it(
    broker: LocalBroker, start_worker: Any
) -> None:
    start = default_start()
    keeper = same_partition_mmsi(DARK, partitions=2)
    first = start_worker()
    # The vessel reports in the Strait, then falls silent; only the worker that saw it knows.
    before = [fix(DARK, start + timedelta(minutes=m), 35.99, -5.45) for m in (0, 10, 20)]
    before += [fix(keeper, start + timedelta(hours=h), 38.5, 4.0 + h / 10) for h in range(2)]
    send(broker, VESSELS, before)
    first.wait_until(lambda s: s["detect"]["fixes"] >= len(before))
    assert first.sql("SELECT count() FROM borderwatch.alerts") == [[0]]
    first.stop()

    second = start_worker()
    # Time moves on (another vessel on the same partition reports); no message from the silent one.
    later = [fix(keeper, start + timedelta(hours=h), 38.5, 4.0 + h / 10) for h in range(2, 8)]
    send(broker, VESSELS, later)
    second.wait_until(lambda s: s["detect"]["alerts"] >= 1, timeout_s=120)
    query = "SELECT id, status, vessel_ids FROM borderwatch.alerts FINAL"
    deadline = time.monotonic() + 30
    while not (rows := second.sql(query)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [(r[1], r[2]) for r in rows] == [("new", [f"mmsi:{DARK}"])], rows
    assert rows[0][0] == f"ais_gap:mmsi:{DARK}:{int((start + timedelta(minutes=20)).timestamp())}"
