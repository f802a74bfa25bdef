"""HTTP ingest's lookup of stored report identities on a real engine (chdb): one query for a request's
keys; a broken connection is None (ingest then answers `accepted`), never an error."""

from __future__ import annotations

from pathlib import Path

from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.events import ClickHouseIncidentSink
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.sinks.clickhouse.report_keys import ClickHouseReportKeys
from tests.helpers.clickhouse import report


def test_the_stored_identities_among_a_requests_keys(engine_dir: Path) -> None:
    dsn = f"chdb://{engine_dir}"
    client = connect(dsn)
    migrate(client, "t_report_keys")
    sink = ClickHouseIncidentSink(client, "t_report_keys")
    sink.open_log("")
    sink.write_events([report(1, "stored-1"), report(2, "stored-2")])
    keys = ClickHouseReportKeys(lambda: client, "t_report_keys")
    asked = [("ES-GC", "stored-1"), ("ES-GC", "new-1"), ("IT-GDF", "stored-2"), ("ES-GC", "stored-2")]
    assert keys.stored(asked) == {("ES-GC", "stored-1"), ("ES-GC", "stored-2")}
    assert keys.stored([]) == set()
    client.close()


def test_a_lookup_that_fails_is_none(tmp_path: Path) -> None:
    def refuse() -> None:
        raise ConnectionError("ClickHouse is away")

    keys = ClickHouseReportKeys(refuse, "borderwatch")  # type: ignore[arg-type]
    assert keys.stored([("ES-GC", "a")]) is None
