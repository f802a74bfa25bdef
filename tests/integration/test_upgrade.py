"""An upgrade in place: a worker of this release starts on data dirs earlier releases made (6f2e227, effdec4),
migrates it, and loses nothing."""

from __future__ import annotations

import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from streams.kafka.broker import LocalBroker
from streams.kafka.topics import INTERCEPTIONS
from tests.helpers.chdb import query_elsewhere
from tests.helpers.kafka_io import send
from tests.helpers.paths import TEST_DATA

# Made by the release before, with its own sink: 50 interception reports u-0 .. u-49 (persons n + 1),
# 7 dead letters, one alert (tests/data/upgrade/PROVENANCE.md).
OLD_DATA = TEST_DATA / "upgrade" / "chdb-6f2e227.tar.gz"


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


# Made by the release before the production schema (effdec4) with scripts/make_upgrade_data.py.
RELEASE_BEFORE = TEST_DATA / "upgrade" / "chdb-effdec4.tar.gz"


def test_the_release_before_is_rebuilt_by_month_with_its_keys_and_positions_and_loses_nothing(
    broker: LocalBroker, start_worker: Any, tmp_path: Path
) -> None:
    with tarfile.open(RELEASE_BEFORE) as archive:
        archive.extractall(tmp_path / "data", filter="data")
    worker = start_worker()
    totals = (
        "SELECT (SELECT count() FROM borderwatch.events), (SELECT count() FROM borderwatch.report_keys), "
        "(SELECT count() FROM borderwatch.vessel_positions), "
        "(SELECT sum(reports) FROM borderwatch.crossing_counts), "
        "(SELECT sum(persons) FROM borderwatch.crossing_counts), (SELECT count() FROM borderwatch.rejects), "
        "(SELECT count() FROM borderwatch.alerts), (SELECT count() FROM borderwatch.erased)"
    )
    # 49 interceptions (u-49 was erased: its tombstone and negative count row stay) and 10 fixes.
    assert worker.sql(totals) == [[59, 59, 10, 49, 1225, 7, 1, 1]]
    assert worker.sql("SELECT uniqExact(_partition_id) FROM borderwatch.events") == [[2]]
    # Everything again, through another broker: resends, and the erased report stays erased.
    at = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    lines = [orjson.dumps({
        "authority": "ES-GC", "report_id": f"u-{n}", "observed_at": at - timedelta(days=n),
        "lat": 35.5, "lon": 12.605, "incident_type": "irregular_crossing_attempt", "persons": n + 1,
    }) for n in range(50)]  # fmt: skip
    send(broker, INTERCEPTIONS, [*lines, b"{not json"])
    worker.wait_until(lambda s: s["processed"] >= 51 and s["rejects"] >= 8)
    assert worker.sql(totals) == [[59, 59, 10, 49, 1225, 8, 1, 1]]
    # New reports land in their month and are counted once.
    fresh = [orjson.dumps({
        "authority": "ES-GC", "report_id": f"n-{n}", "observed_at": at + timedelta(hours=n),
        "lat": 35.5, "lon": 12.605, "incident_type": "irregular_crossing_attempt", "persons": 2,
    }) for n in range(3)]  # fmt: skip
    send(broker, INTERCEPTIONS, fresh + fresh)
    worker.wait_until(lambda s: s["processed"] >= 57)
    assert worker.sql(totals) == [[62, 62, 10, 52, 1231, 8, 1, 1]]

    # The schema, read directly once the worker is gone (analysts' SQL does not reach system tables).
    worker.stop()
    gone = "('events_by_month', 'events_unpartitioned', 'migration_lock')"
    tables, ddl, left = query_elsewhere(tmp_path / "data" / "chdb", [
        "SELECT name, partition_key, sorting_key FROM system.tables WHERE database = 'borderwatch' "
        "AND name IN ('events', 'vessel_positions') ORDER BY name",
        "SELECT create_table_query FROM system.tables WHERE database = 'borderwatch' AND name = 'events'",
        f"SELECT count() FROM system.tables WHERE database = 'borderwatch' AND name IN {gone}",
    ])  # fmt: skip
    assert tables == [
        ["events", "toYYYYMM(observed_at)", "crossing_id, observed_at, authority, report_id"],
        ["vessel_positions", "toYYYYMM(observed_at)", "vessel_key, observed_at, authority, report_id"],
    ]
    assert "`report` String TTL toDateTime(received_at) + toIntervalDay(90)" in ddl[0][0]  # set again
    assert left == [[0]]
