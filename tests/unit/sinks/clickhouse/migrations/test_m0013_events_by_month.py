"""Migration 13 on a real engine (chdb): `events` rebuilt by month finishes after a kill at any step,
keeps what an old worker writes or erases meanwhile, and stores years of reports whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from schemas import ReportKind
from schemas.codec import encode_columns
from streams.sinks.clickhouse.columns import EVENT_COLUMNS, event_columns
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.erase import ErasureRequest, erase_report
from streams.sinks.clickhouse.events import ClickHouseIncidentSink
from streams.sinks.clickhouse.migrations import m0013_events_by_month
from streams.sinks.clickhouse.migrations.runner import MIGRATIONS, migrate
from streams.sinks.clickhouse.repair import DerivedTableRepair
from streams.stages.enrich import RawMessage, process_batch
from tests.helpers.clickhouse import AT, CATALOGUE, KilledAt, interception, migrate_before, old_release


@pytest.mark.parametrize(
    "killed_at",
    ["INSERT INTO {db}.events_by_month", "DROP VIEW IF EXISTS {db}.report_keys_mv", "EXCHANGE TABLES",
     "CREATE MATERIALIZED VIEW {db}.crossing_counts_mv", "CREATE MATERIALIZED VIEW {db}.report_keys_mv",
     "TRUNCATE TABLE {db}.vessel_positions", "INSERT INTO {db}.vessel_positions",
     "DROP TABLE {db}.events_by_month"],
)  # fmt: skip
def test_the_rebuild_by_month_finishes_after_a_kill_at_any_step_and_loses_nothing(
    engine_dir: Path, monkeypatch: pytest.MonkeyPatch, killed_at: str
) -> None:
    db = f"bw_rebuild_{abs(hash(killed_at)) % 10**8}"
    client = old_release(engine_dir, db, monkeypatch)
    counts = f"SELECT sum(reports), sum(persons) FROM {db}.crossing_counts"
    assert client.query(counts).result_rows == [(20, 210)]

    with pytest.raises(OSError, match="killed before"):
        migrate(KilledAt(client, killed_at.format(db=db)), db)  # type: ignore[arg-type]
    # A worker of the release before, still running, writes a report meanwhile: `events` is always
    # there (the views may not be). One more, begun before the exchange, lands in the old table after.
    meanwhile = process_batch([interception("meanwhile", 5)], CATALOGUE, AT).events
    ClickHouseIncidentSink(client, db).write_events(meanwhile)
    old_table = client.query(
        "SELECT partition_key FROM system.tables WHERE database = %(db)s AND name = 'events_by_month'",
        parameters={"db": db},
    ).result_rows
    swapped = old_table == [("",)]
    if swapped:
        late = process_batch([interception("late", 6)], CATALOGUE, AT).events
        client.raw_insert(
            f"{db}.events_by_month", list(EVENT_COLUMNS),
            insert_block=encode_columns(dict(zip(EVENT_COLUMNS, event_columns(late, ""), strict=True))),
            fmt="JSONColumns", settings={"date_time_input_format": "best_effort"},
        )  # fmt: skip
    assert migrate(client, db) == len(MIGRATIONS) - 12  # the next start finishes it, and the later ones

    tables = dict(client.query(
        "SELECT name, partition_key FROM system.tables WHERE database = %(db)s", parameters={"db": db}
    ).result_rows)  # fmt: skip
    assert tables["events"] == "toYYYYMM(observed_at)" and "events_by_month" not in tables
    assert {"crossing_counts_mv", "report_keys_mv", "vessel_positions_mv"} <= set(tables)
    rows = (f"SELECT (SELECT count() FROM {db}.events FINAL), (SELECT count() FROM {db}.report_keys FINAL), "
            f"(SELECT count() FROM {db}.vessel_positions FINAL)")  # fmt: skip
    n, persons = (27, 221) if swapped else (26, 215)
    assert client.query(rows).result_rows == [(n, n, 5)]
    assert client.query(counts).result_rows == [(n - 5, persons)]
    sink = ClickHouseIncidentSink(client, db)
    assert DerivedTableRepair(client, db).repair_derived() == []
    # A new report after the upgrade goes through every view once.
    sink.write_events(process_batch([interception("after", 4)], CATALOGUE, AT).events)
    assert client.query(rows).result_rows == [(n + 1, n + 1, 5)]
    assert client.query(counts).result_rows == [(n - 4, persons + 4)]


class _ErasingAt(KilledAt):
    """The real client, and an old worker erasing report r-9 of `db` just before the statement
    starting with `at`."""

    def __init__(self, client: Client, at: str, db: str) -> None:
        super().__init__(client, at)
        self._db = db

    def command(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql.startswith(self._at):
            self._at = "never again"
            erase_report(self._client, self._db, ErasureRequest(authority="ES-GC", report_id="r-9"))
        return self._client.command(sql, *args, **kwargs)


@pytest.mark.parametrize(
    "erased_at", ["EXCHANGE TABLES", "CREATE MATERIALIZED VIEW {db}.crossing_counts_mv"]
)  # between the copy and the exchange, and after the exchange
def test_a_report_an_old_worker_erases_during_the_rebuild_stays_erased(
    engine_dir: Path, monkeypatch: pytest.MonkeyPatch, erased_at: str
) -> None:
    db = f"bw_rebuild_erase_{abs(hash(erased_at)) % 10**6}"
    client = old_release(engine_dir, db, monkeypatch)
    assert migrate(_ErasingAt(client, erased_at.format(db=db), db), db) == len(MIGRATIONS) - 12  # type: ignore[arg-type]

    assert client.query(f"SELECT count() FROM {db}.erased").result_rows == [(1,)]  # it did erase
    ids = client.query(f"SELECT report_id FROM {db}.events FINAL WHERE report_id = 'r-9'").result_rows
    assert ids == []
    counts = f"SELECT sum(reports), sum(persons) FROM {db}.crossing_counts"
    assert client.query(counts).result_rows == [(19, 200)]  # r-9 had 10 persons
    assert DerivedTableRepair(client, db).repair_derived() == []


def _many_months(count: int) -> list[RawMessage]:
    lines = [orjson.dumps({
        "authority": "ES-GC", "report_id": f"m-{n}",
        "observed_at": f"{2001 + n // 12}-{1 + n % 12:02d}-15T03:00:00Z", "lat": 35.5, "lon": 12.605,
        "incident_type": "irregular_crossing_attempt", "persons": 1,
    }) for n in range(count)]  # fmt: skip
    return [
        RawMessage("reports.interceptions", 0, n, v, ReportKind.INTERCEPTION) for n, v in enumerate(lines)
    ]


@pytest.mark.parametrize("upgrade", [False, True])
def test_reports_of_more_months_than_clickhouse_allows_per_insert_are_stored_whole(
    engine_dir: Path, monkeypatch: pytest.MonkeyPatch, upgrade: bool
) -> None:
    """ClickHouse refuses an insert touching over 100 partitions by default; a replay of years of
    reports (any observed_at since 2000 is valid), or the rebuild of years of them, must not fail."""
    client = connect(f"chdb://{engine_dir}")
    db = f"bw_many_months_{int(upgrade)}"
    client.command(f"DROP DATABASE IF EXISTS {db}")
    if upgrade:  # written by the release before, then rebuilt by month
        migrate_before(client, db, m0013_events_by_month.VERSION, monkeypatch)
    else:
        migrate(client, db)
    ClickHouseIncidentSink(client, db).write_events(process_batch(_many_months(150), CATALOGUE, AT).events)
    migrate(client, db)
    assert client.query(f"SELECT count(), uniqExact(_partition_id) FROM {db}.events").result_rows == [
        (150, 150)
    ]
    assert client.query(f"SELECT count() FROM {db}.report_keys").result_rows == [(150,)]
    assert client.query(f"SELECT sum(reports) FROM {db}.crossing_counts").result_rows == [(150,)]


