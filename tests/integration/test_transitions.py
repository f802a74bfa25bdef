"""Geofence transitions are data: stored exactly in `transitions`, alerts only where a rule asks."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from streams.demo.scenario import default_start
from streams.kafka.broker import LocalBroker
from streams.kafka.topics import TRANSITIONS, VESSELS
from tests.helpers.cli import run
from tests.helpers.kafka_io import read_topic, send
from tests.helpers.workers import Worker

MMSI = "247000001"
ZONE = "IT-LAMPEDUSA"
OUTSIDE = (35.2, 12.54)  # open sea south of the Lampedusa sector, on the Central Mediterranean route
INSIDE = (35.552, 12.538)  # inside it; 39 km apart, 1.5 h between fixes: 14 kn


def fix(n: int, at: datetime, lat: float, lon: float) -> bytes:
    return orjson.dumps({
        "report_id": f"AIS-{MMSI}-{n}", "authority": "EMSA", "source": "ais", "observed_at": at,
        "lat": lat, "lon": lon, "mmsi": int(MMSI), "name": "Stella Maris", "vessel_type": "Fishing",
        "sog": 14.0,
    })  # fmt: skip


def in_and_out(start: datetime) -> list[bytes]:
    """Outside, inside, outside again: one enter (fix 1) and one exit (fix 2)."""
    step = timedelta(minutes=90)
    return [fix(n, start + n * step, *point) for n, point in enumerate((OUTSIDE, INSIDE, OUTSIDE))]


def poll(worker: Worker, query: str, want: Any, timeout_s: float = 90) -> list[list[Any]]:
    deadline = time.monotonic() + timeout_s
    while (rows := worker.sql(query)) != want and time.monotonic() < deadline:
        time.sleep(0.5)
    return rows


ROWS = (
    "SELECT direction, zone_id, route, vessel_key, mmsi, imo, name, vessel_type, event_id, "
    "toUnixTimestamp64Milli(observed_at), received_at IS NOT NULL, inserted_at >= received_at "
    "FROM borderwatch.transitions ORDER BY observed_at"
)
GEOFENCE_ALERTS = "SELECT kind, zone_id, vessel_ids FROM borderwatch.alerts FINAL WHERE kind LIKE 'geofence%'"


def test_transitions_are_stored_once_and_raise_no_alert_without_a_rule(
    broker: LocalBroker, start_worker: Any
) -> None:
    start = default_start()
    worker = start_worker()
    send(broker, VESSELS, in_and_out(start))

    expected = [
        ["enter", ZONE, "Central Mediterranean", f"mmsi:{MMSI}", MMSI, "", "Stella Maris", "Fishing",
         f"EMSA:AIS-{MMSI}-1", int((start + timedelta(minutes=90)).timestamp() * 1000), True, True],
        ["exit", ZONE, "Central Mediterranean", f"mmsi:{MMSI}", MMSI, "", "Stella Maris", "Fishing",
         f"EMSA:AIS-{MMSI}-2", int((start + timedelta(minutes=180)).timestamp() * 1000), True, True],
    ]  # fmt: skip
    assert poll(worker, ROWS, expected) == expected
    # The analyst cage lets the table be read by its plain name too.
    assert worker.sql("SELECT direction, count() FROM transitions GROUP BY direction ORDER BY direction") == [
        ["enter", 1],
        ["exit", 1],
    ]

    # Replays: the producer resends every report, and the detect agent's records reach the
    # topic again (as after a crash between publishing and committing), with a record that
    # is no transition at all.
    published = asyncio.run(read_topic(broker.url, TRANSITIONS, 2))
    assert {orjson.loads(r.value)["direction"] for r in published} == {"enter", "exit"}
    send(broker, VESSELS, in_and_out(start))
    send(broker, TRANSITIONS, [r.value for r in published] + [b'{"direction": "sideways"}'])
    status = worker.wait_until(
        lambda s: s["duplicates"] >= 3 and s["transitions"]["duplicates"] >= 2 and s["rejects"] >= 1
    )
    assert status["transitions"]["stored"] == 2
    time.sleep(2)  # anything still on its way lands
    assert worker.sql("SELECT count() FROM borderwatch.transitions") == [[2]]  # no FINAL needed
    assert worker.sql("SELECT count() FROM borderwatch.transitions FINAL") == [[2]]
    assert worker.sql(ROWS) == expected
    refused = worker.sql("SELECT reason, source_topic FROM borderwatch.rejects FINAL")
    assert refused == [["undecodable_record", TRANSITIONS]]

    # Without a rules file, transitions raise no alert.
    assert worker.sql(GEOFENCE_ALERTS) == []
    assert worker.status()["detect"]["alerts"] == 0


def test_a_rule_naming_the_zone_raises_the_alert(
    tmp_path: Path, broker: LocalBroker, start_worker: Any
) -> None:
    rules = tmp_path / "transition-rules.toml"
    rules.write_text(f'[[rule]]\nname = "Lampedusa arrivals"\nzones = ["{ZONE}"]\ndirections = ["enter"]\n')
    worker = start_worker(transition_rules=str(rules))
    send(broker, VESSELS, in_and_out(default_start()))

    want = [["geofence_enter", ZONE, [f"mmsi:{MMSI}"]]]
    assert poll(worker, GEOFENCE_ALERTS, want) == want
    assert poll(worker, "SELECT count() FROM borderwatch.transitions", [[2]]) == [
        [2]
    ]  # the exit too, as data
    time.sleep(2)
    assert worker.sql(GEOFENCE_ALERTS) == want  # the exit asked for no alert
    (description,) = worker.sql(
        "SELECT description FROM borderwatch.alerts FINAL WHERE kind = 'geofence_enter'"
    )
    assert "rule 'Lampedusa arrivals'" in description[0]


def test_a_bad_rules_file_stops_the_worker_at_start_naming_the_problem(tmp_path: Path) -> None:
    rules = tmp_path / "transition-rules.toml"
    rules.write_text('[[rule]]\nname = "typo"\nzone = ["IT-LAMPEDUSA"]\n')
    result = run(["worker"], tmp_path, timeout=60, BORDERWATCH_TRANSITION_RULES=str(rules))
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "rule 1 ('typo'): zone: Extra inputs are not permitted" in message, result.stderr

    rules.write_text('[[rule]]\nname = "nowhere"\nzones = ["IT-ATLANTIS"]\n')
    result = run(["worker"], tmp_path, timeout=60, BORDERWATCH_TRANSITION_RULES=str(rules))
    assert result.returncode == 2
    assert "['IT-ATLANTIS'] are no crossing of the catalogue" in " ".join(result.stderr.split()), (
        result.stderr
    )
