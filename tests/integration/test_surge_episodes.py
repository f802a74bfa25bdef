"""Surges on a real broker and chdb: a short quiet history, then two episodes a week apart, two alerts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from streams.kafka.broker import LocalBroker
from streams.kafka.topics import ALERTS, INTERCEPTIONS
from tests.helpers.kafka_io import read_topic, send

LAMPEDUSA = (35.552, 12.538)  # inside the IT-LAMPEDUSA sector
START = datetime(2024, 2, 1, tzinfo=UTC)  # the seed expects 48 persons (about one boat) a day at Lampedusa
EPISODE_DAYS = (14, 21)  # 15 and 22 February: 40 boats of 50 persons within 10 hours, each
DAYS = 24
DELAY = timedelta(hours=1)  # from observed_at to reported_at


def report(n: int, observed: datetime, persons: int) -> bytes:
    return orjson.dumps({
        "report_id": f"IT-GDF-2024-{n:05d}", "authority": "IT-GDF", "observed_at": observed,
        "reported_at": observed + DELAY, "lat": LAMPEDUSA[0], "lon": LAMPEDUSA[1],
        "incident_type": "interception_at_sea", "persons": persons, "boat_type": "rubber",
    })  # fmt: skip


def day_of_reports(day: int, first: int) -> list[bytes]:
    """One boat of 45 at 03:00 on a quiet day; 40 boats of 50 from 20:00 on an episode's day."""
    midnight = START + timedelta(days=day)
    if day not in EPISODE_DAYS:
        return [report(first, midnight + timedelta(hours=3), 45)]
    return [report(first + b, midnight + timedelta(hours=20, minutes=15 * b), 50) for b in range(40)]


def test_a_quiet_history_and_two_episodes_a_week_apart_give_two_surge_alerts(
    broker: LocalBroker, start_worker: Any
) -> None:
    worker = start_worker()
    sent = 0
    for day in range(DAYS):
        # A day at a time, as a centre reports them: the worker's clock follows the reports.
        lines = day_of_reports(day, sent)
        sent += send(broker, INTERCEPTIONS, lines)
        worker.wait_until(lambda s, n=sent: s["events"] == n and s["detect"]["sightings"] == n)

    # Every state the worker published, as a centre subscribed to `alerts` receives them.
    published = asyncio.run(read_topic(broker.url, ALERTS, worker.status()["detect"]["alerts"]))
    states = sorted(
        (s for s in map(orjson.loads, (r.value for r in published)) if s["kind"] == "surge"),
        key=lambda s: (s["id"], s["version"]),
    )
    by_id: dict[str, list[dict[str, Any]]] = {}
    for state in states:
        by_id.setdefault(state["id"], []).append(state)
    assert len(by_id) == 2, states  # one alert per episode, none for the quiet days
    first_seen = []
    for alert_id, versions in by_id.items():
        assert alert_id.startswith("surge:IT-LAMPEDUSA:")
        assert versions[0]["version"] == 1 and versions[0]["status"] == "new" and versions[0]["notify"]
        assert versions[-1]["impact"] == "very_high"  # 2,000 persons in 10 h against about 48 a day
        assert "expected" in versions[0]["description"] and "99% upper bound" in versions[0]["description"]
        assert versions[-1]["status"] == "resolved" or alert_id == max(by_id)
        first_seen.append(datetime.fromisoformat(versions[0]["window_start"]).timestamp())
    stored = worker.sql("SELECT count() FROM borderwatch.alerts FINAL WHERE kind = 'surge'")
    assert stored == [[2]]
    onsets = [(START + timedelta(days=d, hours=20)).timestamp() for d in EPISODE_DAYS]
    # Each alert's window begins within its own episode's day, not at the other one.
    for start, onset in zip(sorted(first_seen), onsets):
        assert onset - 24 * 3600 <= start <= onset + 10 * 3600
    assert worker.status()["detect"]["too_late"] == 0
