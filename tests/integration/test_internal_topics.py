"""Internal topics are checked like input: garbage on them is dead-lettered and the worker goes on."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from streams.kafka.broker import LocalBroker
from streams.kafka.security import as_connection
from streams.kafka.topics import (
    ALERTS,
    DETECT_CELLS,
    DETECT_MEETINGS,
    DETECT_TRACKS,
    DLQ,
    INTERCEPTIONS,
    TRANSITIONS,
)
from tests.helpers.kafka_io import send

GOOD = {
    "report_id": "OK-0", "authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z",
    "lat": 35.889, "lon": -5.317, "incident_type": "irregular_crossing_attempt", "persons": 42,
}  # fmt: skip
GARBAGE = [b"\xff\xfe not json", b"{}", b'{"id": 1}', b"[" * 5000, orjson.dumps({"reason": "x" * 100})]
# Decodes as JSON columns, but no detector can take it.
HOSTILE_BATCH = orjson.dumps({"fixes": {"ts": ["a", None]}, "sightings": 7})
# Decode as news, but from no cells partition, or with a finding no detector makes.
HOSTILE_NEWS = [
    orjson.dumps({"source": 99, "offset": 0, "mark_ts": 1.7e9, "found": []}),
    orjson.dumps({"source": 0, "offset": -1, "mark_ts": None, "found": []}),
    orjson.dumps({"source": 0, "offset": 0, "mark_ts": 1.7e9, "found": [{"found_ts": 1, "source": 0, "seq": 0,
                  "finding": {"kind": "rm -rf", "group": "x", "ts": 1}}]}),
]  # fmt: skip


async def produce(url: str, topic: str, records: list[tuple[bytes | None, bytes, int]]) -> None:
    producer = AIOKafkaProducer(**as_connection(url).client_kwargs())
    await producer.start()
    try:
        for key, value, partition in records:
            await producer.send_and_wait(topic, value, key=key, partition=partition)
    finally:
        await producer.stop()


def good(n: int) -> bytes:
    return orjson.dumps({**GOOD, "report_id": f"OK-{n}"})


def test_garbage_on_every_internal_topic_is_dead_lettered_and_the_worker_goes_on(
    broker: LocalBroker, start_worker: Any
) -> None:
    worker = start_worker()
    send(broker, INTERCEPTIONS, [good(n) for n in range(3)])
    worker.wait_until(lambda s: s["events"] == 3)

    hostile = {
        ALERTS: GARBAGE,
        DLQ: GARBAGE,
        TRANSITIONS: GARBAGE,
        DETECT_TRACKS: [*GARBAGE, HOSTILE_BATCH],
        DETECT_CELLS: [*GARBAGE, HOSTILE_BATCH],
        DETECT_MEETINGS: [*GARBAGE, *HOSTILE_NEWS],
    }
    for topic, values in hostile.items():
        asyncio.run(produce(broker.url, topic, [(b"batch", v, n % 2) for n, v in enumerate(values)]))
    expected = sum(len(v) for v in hostile.values())
    status = worker.wait_until(lambda s: s["rejects"] >= expected, timeout_s=60)
    assert status["rejects"] == expected
    rows = worker.sql(
        "SELECT source_topic, count() FROM borderwatch.rejects FINAL "
        "WHERE reason = 'undecodable_record' GROUP BY source_topic ORDER BY source_topic"
    )
    assert rows == sorted([topic, len(values)] for topic, values in hostile.items())

    # Still alive, healthy and counting.
    send(broker, INTERCEPTIONS, [good(n) for n in range(3, 6)])
    status = worker.wait_until(lambda s: s["events"] == 6)
    assert status["health"] == {
        "broker": "ok", "ingest": "ok", "rejects": "ok", "detect": "ok", "alerts_sink": "ok",
        "transitions_sink": "ok", "delivery": "ok",
    }  # fmt: skip
    assert worker.process.poll() is None


def test_garbage_on_a_changelog_does_not_stop_recovery(broker: LocalBroker, start_worker: Any) -> None:
    first = start_worker()
    send(broker, INTERCEPTIONS, [good(n) for n in range(3)])
    first.wait_until(lambda s: s["events"] == 3 and s["detect"]["sightings"] == 3)
    first.stop()
    worker_id = first.worker_id
    tables = (
        "vessels", "crossings", "crossing_history", "cells", "track_alert_groups", "cell_alert_groups",
        "meeting_holds", "meeting_groups",
    )  # fmt: skip
    for table in tables:
        topic = f"{worker_id}-{table}-changelog"
        records = [(b"\xff", b"\xff garbage", 0), (b'"k"', b"[" * 5000, 1), (b'"k2"', b'{"x": 1}', 0)]
        asyncio.run(produce(broker.url, topic, records))

    second = start_worker(tick_s="1")
    send(broker, INTERCEPTIONS, [good(n) for n in range(3, 6)])
    status = second.wait_until(lambda s: s["events"] == 6 and s["detect"]["sightings"] >= 3)
    assert status["health"]["detect"] == "ok"
    # Every garbage record is a dead letter naming its changelog; the good state was recovered.
    status = second.wait_until(lambda s: s["rejects"] == 24, timeout_s=60)
    rows = second.sql(
        "SELECT count(), uniqExact(source_topic) FROM borderwatch.rejects FINAL "
        "WHERE reason = 'undecodable_record' AND endsWith(source_topic, '-changelog')"
    )
    assert rows == [[24, 8]]
