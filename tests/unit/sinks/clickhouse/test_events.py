"""The incident sink on a real engine (chdb): a dead letter replayed in another batch is stored once,
and positions in a broker's log count only within that log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from schemas.events import ReportKind
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.events import ClickHouseIncidentSink
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.stages.enrich import RawMessage, Source, process_batch
from tests.helpers.clickhouse import AT, CATALOGUE, KilledAt, interception, letter, report

DB = "bw_rejects_unit"


def test_replayed_dead_letters_are_stored_once_and_plain_count_is_exact(engine_dir: Path) -> None:
    client = connect(f"chdb://{engine_dir}")
    migrate(client, DB)
    sink = ClickHouseIncidentSink(client, DB)
    sink.write_rejects([letter(n) for n in range(5)])
    # After a kill -9 the input is read again from its last commit, in batches cut elsewhere,
    # and the same message can also be refused twice within one batch.
    sink.write_rejects([letter(n) for n in range(3, 8)] + [letter(7)])
    sink.write_rejects([letter(0, partition=1), letter(0, topic="reports.vessels"), letter(4)])
    sink.write_rejects([])
    assert client.query(f"SELECT count() FROM {DB}.rejects").result_rows == [(10,)]
    assert sink.totals()["rejects"] == 10


def test_a_broker_that_lost_its_log_has_its_positions_told_apart_from_the_old_ones(engine_dir: Path) -> None:
    db = "bw_clusters_unit"
    client = connect(f"chdb://{engine_dir}")
    migrate(client, db)
    first = ClickHouseIncidentSink(client, db)
    assert first.open_log("cluster-a") == []
    first.write_rejects([letter(n) for n in range(5)])
    first.write_events([report(7, "r1")])
    assert first.stored_sources([report(7, "r1")]) == {("ES-GC", "r1"): Source("reports.interceptions", 0, 7)}

    # The broker restarts empty, with a new cluster id, and hands out offsets 0, 1, ... again.
    second = ClickHouseIncidentSink(client, db)
    assert second.open_log("cluster-b") == ["cluster-a"]
    assert second.earlier == ["cluster-a"]
    second.write_rejects([letter(n) for n in range(3)])  # new bad messages at the old positions
    second.write_rejects([letter(n) for n in range(3)])  # and a crash replay of them in this log
    assert client.query(f"SELECT count() FROM {db}.rejects").result_rows == [(8,)]
    assert second.totals()["rejects"] == 8
    # A resend of r1 that lands at r1's old offset is a resend, not a crash replay to publish again.
    assert second.stored_sources([report(7, "r1")])[("ES-GC", "r1")] != report(7, "r1").source
    # The first broker, seen again (a Kafka cluster that was never lost), is not new.
    again = ClickHouseIncidentSink(client, db)
    assert again.open_log("cluster-a") == [] and again.earlier == []
    assert again.stored_sources([report(7, "r1")]) == {("ES-GC", "r1"): report(7, "r1").source}


def test_rows_stored_before_clusters_were_recorded_belong_to_the_first_cluster(engine_dir: Path) -> None:
    db = "bw_clusters_legacy_unit"
    client = connect(f"chdb://{engine_dir}")
    migrate(client, db)
    legacy = ClickHouseIncidentSink(client, db)  # no cluster: how an earlier release wrote its rows
    legacy.write_rejects([letter(0), letter(1)])
    legacy.write_events([report(7, "r1")])
    upgraded = ClickHouseIncidentSink(client, db)
    upgraded.open_log("cluster-a")
    upgraded.write_rejects([letter(1), letter(2)])  # letter(1) is a crash replay across the upgrade
    assert upgraded.stored_sources([report(7, "r1")]) == {("ES-GC", "r1"): report(7, "r1").source}
    restarted = ClickHouseIncidentSink(client, db)
    restarted.open_log("cluster-b")
    restarted.write_rejects([letter(1)])
    assert restarted.stored_sources([report(7, "r1")])[("ES-GC", "r1")] != report(7, "r1").source
    assert client.query(f"SELECT count() FROM {db}.rejects").result_rows == [(4,)]


class _Recording(KilledAt):
    """The real client, with the settings of each insert noted."""

    def __init__(self, client: Client) -> None:
        super().__init__(client, "never")
        self.inserts: dict[str, dict[str, Any]] = {}

    def insert(self, table: str, *args: Any, settings: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        self.inserts[table] = settings or {}
        return self._client.insert(table, *args, settings=settings, **kwargs)

    def raw_insert(
        self, table: str, *args: Any, settings: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        self.inserts[table] = settings or {}
        return self._client.raw_insert(table, *args, settings=settings, **kwargs)


def test_events_and_rejects_are_inserted_in_the_foreground_through_a_distributed_table(
    engine_dir: Path,
) -> None:
    client = connect(f"chdb://{engine_dir}")
    migrate(client, db := "bw_foreground")
    recording = _Recording(client)
    sink = ClickHouseIncidentSink(recording, db)  # type: ignore[arg-type]
    sink.write_events(process_batch([interception("fg", 3)], CATALOGUE, AT).events)
    sink.write_rejects([letter(7)])
    for table in (f"{db}.events", f"{db}.rejects"):
        assert recording.inserts[table]["distributed_foreground_insert"] == 1, table
        assert recording.inserts[table]["insert_deduplication_token"], table
    assert sink.totals() == {"events": 1, "rejects": 1}  # and chdb takes the setting


def test_the_identity_lookup_takes_a_whole_batch_of_the_longest_identities(engine_dir: Path) -> None:
    # 2,000 reports (the default batch) whose authority and report_id are as long as the schema allows,
    # with characters that a query's text must escape: the lookup once failed on ClickHouse's
    # max_query_size (256 KiB), and the batch was cut in halves until it fitted.
    db = "bw_long_keys_unit"
    client = connect(f"chdb://{engine_dir}")
    migrate(client, db)
    sink = ClickHouseIncidentSink(client, db)
    authority = ("É\\'\"" * 50)[:200]
    messages = [
        RawMessage(
            "reports.interceptions", 0, n,
            orjson.dumps({
                "authority": authority, "report_id": f"{n:06d}" + "\\\"'ü" * 48 + "xx",
                "observed_at": "2026-11-22T03:14:00Z", "incident_type": "irregular_crossing_attempt",
                "persons": 3, "lat": 35.5, "lon": 12.605,
            }),
            ReportKind.INTERCEPTION,
        )
        for n in range(2000)
    ]  # fmt: skip
    events = process_batch(messages, CATALOGUE, AT).events
    assert len(events) == 2000 and len(events[0].report.report_id) == 200
    assert sink.stored_sources(events) == {}
    sink.write_events(events[:1500])
    stored = sink.stored_sources(events)
    assert stored == {e.identity: e.source for e in events[:1500]}
