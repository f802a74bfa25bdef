"""Reports in, exact counts per crossing out, on a real broker and chdb; resends count once."""

from __future__ import annotations

import asyncio
from typing import Any

from schemas.events import EnrichedEvent
from scripts.make_sample_feed import Feed, generate
from streams.kafka.topics import ENRICHED, INTERCEPTIONS, VESSELS
from tests.helpers.counts import stored_counts
from tests.helpers.kafka_io import read_topic, send


def accepted(feed: Feed) -> int:
    return feed.expected_totals()[0] + len(feed.vessels)


def test_counts_per_crossing_are_exact_and_resends_count_once(broker: Any, start_worker: Any) -> None:
    feed = generate(scale=0.5, vessels=10, fixes_per_vessel=20)
    worker = start_worker()
    sent = send(broker, INTERCEPTIONS, feed.interceptions) + send(broker, VESSELS, feed.vessels)
    worker.wait_until(lambda s: s["events"] + s["rejects"] + s["duplicates"] >= sent)

    assert stored_counts(worker) == feed.expected
    status = worker.status()
    assert status["events"] == accepted(feed)
    assert status["rejects"] == feed.bad_lines
    assert status["duplicates"] == feed.resends
    assert sent == status["events"] + status["rejects"] + status["duplicates"]

    # Each accepted report is on events.enriched once, keyed so its copies share a partition.
    records = asyncio.run(read_topic(broker.url, ENRICHED, accepted(feed)))
    events = [EnrichedEvent.model_validate_json(r.value) for r in records]
    assert len({(e.report.authority, e.report.report_id) for e in events}) == accepted(feed)
    by_key = {e.report.report_id: e for e in events}
    for record in records:
        assert record.key.decode().startswith(("mmsi:", "ES-", "MA-", "IT-", "MT-", "GR-"))
    assert {e.crossing_id for e in by_key.values()} >= {c for c, _, _ in feed.expected}

    # The producer resends everything: nothing may change but the duplicate count.
    again = send(broker, INTERCEPTIONS, feed.interceptions)
    # A resent malformed message is a new message to refuse, with its own offset.
    status = worker.wait_until(
        lambda s: s["processed"] >= sent + again and s["rejects"] >= 2 * feed.bad_lines
    )
    assert status["duplicates"] == feed.resends + again - feed.bad_lines
    assert stored_counts(worker) == feed.expected
    assert worker.status()["events"] == accepted(feed)
    rows = worker.sql("SELECT count() FROM borderwatch.events FINAL")
    assert rows[0][0] == accepted(feed)


def test_counts_command_reads_through_the_worker(broker: Any, start_worker: Any, tmp_path: Any) -> None:
    import subprocess
    import sys

    feed = generate(scale=0.1, vessels=0)
    worker = start_worker()
    sent = send(broker, INTERCEPTIONS, feed.interceptions)
    worker.wait_until(lambda s: s["events"] + s["rejects"] + s["duplicates"] >= sent)
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "counts", "--by", "route"],
        env={"BORDERWATCH_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200", "PATH": ""},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    persons_by_route: dict[str, int] = {}
    for (_, route, _), (_, persons) in feed.expected.items():
        persons_by_route[route] = persons_by_route.get(route, 0) + persons
    for route, persons in persons_by_route.items():
        line = next(line for line in result.stdout.splitlines() if route in line)
        assert f" {persons} " in line, line

    refused = subprocess.run(
        [sys.executable, "-m", "streams.cli", "sql", "DROP TABLE borderwatch.events"],
        env={"BORDERWATCH_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200", "PATH": ""},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2 and "only SELECT and DESCRIBE" in refused.stderr
    assert worker.sql("SELECT count() FROM borderwatch.events")[0][0] == feed.expected_totals()[0]
