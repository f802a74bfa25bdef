"""An upgrade in place: a worker of this release starts on a data dir the release before made (6f2e227),
migrates it, and loses nothing."""

from __future__ import annotations

import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from streams.kafka.broker import LocalBroker
from streams.kafka.topics import INTERCEPTIONS
from tests.integration.conftest import send

# Made by the release before, with its own sink: 50 interception reports u-0 .. u-49 (persons n + 1),
# 7 dead letters, one alert (tests/data/upgrade/PROVENANCE.md).
OLD_DATA = Path(__file__).resolve().parents[1] / "data" / "upgrade" / "chdb-6f2e227.tar.gz"


def test_a_data_dir_of_the_release_before_is_migrated_in_place_and_loses_nothing(
    broker: LocalBroker, start_worker: Any, tmp_path: Path
) -> None:
    with tarfile.open(OLD_DATA) as archive:
        archive.extractall(tmp_path / "data", filter="data")
    worker = start_worker()
    totals = (
        "SELECT (SELECT count() FROM borderwatch.events), "
        "(SELECT sum(reports) FROM borderwatch.crossing_counts), "
        "(SELECT sum(persons) FROM borderwatch.crossing_counts), (SELECT count() FROM borderwatch.rejects), "
        "(SELECT count() FROM borderwatch.alerts), (SELECT count() FROM borderwatch.erased)"
    )
    assert worker.sql(totals) == [[50, 50, 1275, 7, 1, 0]]
    assert worker.sql(
        "SELECT count() FROM borderwatch.events WHERE report != '' AND source_cluster = ''"
    ) == [[50]]

    # The same reports again: resends, whatever broker they came through first.
    at = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    lines = [orjson.dumps({
        "authority": "ES-GC", "report_id": f"u-{n}", "observed_at": at - timedelta(minutes=n),
        "lat": 35.5, "lon": 12.605, "incident_type": "irregular_crossing_attempt", "persons": n + 1,
        "notes": "old release",
    }) for n in range(50)]  # fmt: skip
    send(broker, INTERCEPTIONS, [*lines, b"{not json"])
    worker.wait_until(lambda s: s["processed"] >= 51 and s["rejects"] >= 8)
    assert worker.sql(totals) == [[50, 50, 1275, 8, 1, 0]]
