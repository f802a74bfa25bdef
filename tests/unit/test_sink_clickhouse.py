"""The incident sink on a real engine (chdb): a dead letter replayed in another batch is stored once,
and positions in a broker's log count only within that log."""

from __future__ import annotations

import base64
import http.server
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from geo import load_catalogue
from schemas import ReportKind
from schemas.codec import encode_columns
from schemas.errors import SinkUnavailableError
from schemas.rejection import DeadLetter, RejectReason
from streams.config.settings import Settings
from streams.sinks.clickhouse.erase import ErasureRequest, erase_report
from streams.sinks.clickhouse.sink import (
    DEDUP_WINDOW,
    EVENT_COLUMNS,
    MIGRATIONS,
    REJECT_COLUMNS,
    REJECTS_TABLE,
    ClickHouseIncidentSink,
    _events_by_month,
    _key_rejects_by_cluster,
    connect,
    event_columns,
    migrate,
    migration_lock,
    password_in_clear,
)
from streams.stages.enrich import Enriched, RawMessage, Source, process_batch
from tests.pki import TestCA

DB = "bw_rejects_unit"
AT = datetime(2026, 11, 22, 3, 14, tzinfo=UTC)
CATALOGUE = load_catalogue()


def letter(offset: int, partition: int = 0, topic: str = "reports.interceptions") -> DeadLetter:
    return DeadLetter(
        reason=RejectReason.INVALID_JSON, detail="not JSON", source_topic=topic, source_partition=partition,
        source_offset=offset, received_at=AT, raw_b64=base64.b64encode(b"\xff").decode(),
    )  # fmt: skip


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


def report(offset: int, report_id: str) -> Enriched:
    value = orjson.dumps({
        "authority": "ES-GC", "report_id": report_id, "observed_at": "2026-11-22T03:14:00Z",
        "incident_type": "irregular_crossing_attempt", "persons": 3, "lat": 35.5, "lon": 12.605,
    })  # fmt: skip
    message = RawMessage("reports.interceptions", 0, offset, value, ReportKind.INTERCEPTION)
    (event,) = process_batch([message], CATALOGUE, AT).events
    return event


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


def test_the_rejects_table_of_an_earlier_release_is_rebuilt_with_the_cluster_and_loses_nothing(
    engine_dir: Path,
) -> None:
    db = "bw_rejects_upgrade_unit"
    client = connect(f"chdb://{engine_dir}")
    before = MIGRATIONS.index(_key_rejects_by_cluster) - 1  # the events column comes just before
    client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    for statement in MIGRATIONS[:before]:
        assert isinstance(statement, str)
        client.command(statement.format(db=db, window=DEDUP_WINDOW))
    columns = [c for c in REJECT_COLUMNS if c != "source_cluster"]
    rows = [[d.source_topic, d.source_partition, d.source_offset, d.reason.value, d.field, d.detail,
             d.received_at, d.raw] for d in (letter(0), letter(1), letter(2))]  # fmt: skip
    client.insert(f"{db}.rejects", rows, column_names=columns)
    # A crash cut an earlier try short: half a copy is left behind.
    _key_rejects_by_cluster_table_left_half_done(client, db)
    client.command(
        f"CREATE TABLE {db}.schema_migrations (version UInt32, applied_at DateTime DEFAULT now()) "
        "ENGINE = MergeTree ORDER BY version"
    )
    client.insert(f"{db}.schema_migrations", [[v] for v in range(1, before + 1)], column_names=["version"])
    assert migrate(client, db) == len(MIGRATIONS) - before
    assert migrate(client, db) == 0
    kept = client.query(f"SELECT source_offset, source_cluster FROM {db}.rejects ORDER BY 1").result_rows
    assert kept == [(0, ""), (1, ""), (2, "")]
    key = client.query(
        "SELECT sorting_key FROM system.tables WHERE database = %(db)s AND name = 'rejects'",
        parameters={"db": db},
    ).result_rows
    assert key == [("source_cluster, source_topic, source_partition, source_offset",)]
    assert client.query(f"EXISTS TABLE {db}.rejects_by_cluster").result_rows == [(0,)]


def _key_rejects_by_cluster_table_left_half_done(client: Client, db: str) -> None:
    client.command(
        REJECTS_TABLE.format(table="rejects_by_cluster", cluster="\n source_cluster LowCardinality(String),",
                             key="source_cluster, ").format(db=db, window=DEDUP_WINDOW)
    )  # fmt: skip
    client.command(
        f"INSERT INTO {db}.rejects_by_cluster SELECT source_topic, source_partition, source_offset, '', "
        f"reason, field, detail, received_at, raw FROM {db}.rejects WHERE source_offset = 0"
    )


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Stands where a ClickHouse server would, over TLS: it records each request and refuses it."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        self.seen.append(dict(self.headers))
        body = b"Code: 516. DB::Exception: recorded, not served. (AUTHENTICATION_FAILED)\n"
        self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.do_POST()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def https_recorder(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An HTTPS endpoint whose certificate a test CA signed: (port, that CA's PEM)."""
    ca = TestCA(tmp_path / "ca")
    server_cert = ca.issue("clickhouse.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(server_cert.cert), str(server_cert.key))
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], ca.cert
    server.shutdown()
    server.server_close()


def test_over_https_the_server_certificate_is_checked_and_the_password_comes_from_its_file(
    https_recorder: tuple[int, Path], tmp_path: Path
) -> None:
    port, ca = https_recorder
    secret = tmp_path / "writer_password"
    secret.write_text("pw-from-file-7c1d\n")
    settings = Settings(
        clickhouse=f"https://borderwatch_writer@127.0.0.1:{port}/borderwatch",
        clickhouse_password_file=secret, clickhouse_ca_file=ca,
    )  # fmt: skip
    # The test CA: the handshake holds, and the request carries the password from the file.
    with pytest.raises(SinkUnavailableError, match="AUTHENTICATION_FAILED") as refused:
        connect(settings.clickhouse_dsn, settings.clickhouse_ca_file)
    assert "pw-from-file-7c1d" not in str(refused.value)
    assert _Recorder.seen, "the client never reached the server"
    auth = _Recorder.seen[0].get("Authorization", "")
    assert base64.b64decode(auth.removeprefix("Basic ")).decode() == "borderwatch_writer:pw-from-file-7c1d"

    # The system's CAs do not know the test CA: refused before any request, so no password is sent.
    _Recorder.seen.clear()
    with pytest.raises(SinkUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        connect(settings.clickhouse_dsn)
    stranger = TestCA(tmp_path / "other", "another CA").cert
    with pytest.raises(SinkUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        connect(settings.clickhouse_dsn, stranger)
    assert _Recorder.seen == []
    # The DSN's query would win over the check and the CA file: refused before any connection.
    for query in ("?verify=false", f"?ca_cert={stranger}", "?interface=http", "?Secure=false"):
        with pytest.raises(SinkUnavailableError, match="may not set"):
            connect(settings.clickhouse_dsn + query, ca)
    for query in ("?password=hunter2", "?compress=1&ACCESS_TOKEN=t0k"):
        with pytest.raises(SinkUnavailableError, match="may not carry a secret") as refused:
            connect(settings.clickhouse_dsn + query, ca)
        assert "hunter2" not in str(refused.value) and "t0k" not in str(refused.value)
    assert _Recorder.seen == []


@pytest.mark.parametrize(
    ("dsn", "warned"),
    [("http://u:pw@ch.example:8123/bw", True), ("http://u:pw@10.0.0.7:8123/bw", True),
     ("https://u:pw@ch.example:8443/bw", False), ("http://u@ch.example:8123/bw", False),
     ("http://u:pw@localhost:8123/bw", False), ("http://u:pw@127.0.0.1:8123/bw", False),
     ("http://u:pw@[::1]:8123/bw", False), ("chdb:///var/lib/bw", False)],
)  # fmt: skip
def test_a_password_over_plain_http_to_another_machine_is_warned_of(dsn: str, warned: bool) -> None:
    assert password_in_clear(dsn) is warned


@pytest.mark.parametrize(
    ("dsn", "message"),
    [("http://u@ch:8123/borderwatch", "needs an https://"), ("", "needs an https://")],
)
def test_a_ca_file_needs_https(tmp_path: Path, dsn: str, message: str) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(ValueError, match=message):
        Settings(clickhouse=dsn, clickhouse_ca_file=ca)
    with pytest.raises(ValueError, match="is not a file"):
        Settings(clickhouse="https://u@ch:8443/borderwatch", clickhouse_ca_file=tmp_path / "missing.pem")


class _KilledAt:
    """A client that dies (as a killed process would) at the first statement starting with `at`."""

    def __init__(self, client: Client, at: str) -> None:
        self._client, self._at = client, at

    def command(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql.startswith(self._at):
            raise OSError(f"killed before: {sql[:60]}")
        return self._client.command(sql, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _old_release(engine_dir: Path, db: str, monkeypatch: pytest.MonkeyPatch) -> Client:
    """A client on `db` as the release before made it: every migration but the rebuild, and reports
    in it."""
    client = connect(f"chdb://{engine_dir}")
    client.command(f"DROP DATABASE IF EXISTS {db}")
    rebuild = MIGRATIONS.index(_events_by_month)
    with monkeypatch.context() as patch:
        patch.setattr("streams.sinks.clickhouse.sink.MIGRATIONS", MIGRATIONS[:rebuild])
        migrate(client, db)
    lines = [orjson.dumps({
        "authority": "ES-GC", "report_id": f"r-{n}",
        "observed_at": f"2026-{10 + n % 2}-0{1 + n % 9}T03:00:00Z",
        "lat": 35.5, "lon": 12.605, "incident_type": "irregular_crossing_attempt", "persons": n + 1,
    }) for n in range(20)] + [orjson.dumps({
        "authority": "ES-GC", "report_id": f"v-{n}", "observed_at": "2026-11-01T03:00:00Z", "source": "ais",
        "lat": 35.5, "lon": 12.6 + n / 100, "mmsi": 224000001,
    }) for n in range(5)]  # fmt: skip
    messages = [
        RawMessage(f"reports.{'vessels' if line.find(b'mmsi') > 0 else 'interceptions'}", 0, n, line,
                   ReportKind.VESSEL if line.find(b"mmsi") > 0 else ReportKind.INTERCEPTION)
        for n, line in enumerate(lines)
    ]  # fmt: skip
    ClickHouseIncidentSink(client, db).write_events(process_batch(messages, CATALOGUE, AT).events)
    return client


def _report(report_id: str, persons: int) -> RawMessage:
    line = orjson.dumps({"authority": "ES-GC", "report_id": report_id, "observed_at": "2026-11-20T03:00:00Z",
                         "lat": 35.5, "lon": 12.605, "incident_type": "irregular_crossing_attempt",
                         "persons": persons})  # fmt: skip
    return RawMessage("reports.interceptions", 0, 99, line, ReportKind.INTERCEPTION)


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
    client = _old_release(engine_dir, db, monkeypatch)
    counts = f"SELECT sum(reports), sum(persons) FROM {db}.crossing_counts"
    assert client.query(counts).result_rows == [(20, 210)]

    with pytest.raises(OSError, match="killed before"):
        migrate(_KilledAt(client, killed_at.format(db=db)), db)  # type: ignore[arg-type]
    # A worker of the release before, still running, writes a report meanwhile: `events` is always
    # there (the views may not be). One more, begun before the exchange, lands in the old table after.
    meanwhile = process_batch([_report("meanwhile", 5)], CATALOGUE, AT).events
    ClickHouseIncidentSink(client, db).write_events(meanwhile)
    old_table = client.query(
        "SELECT partition_key FROM system.tables WHERE database = %(db)s AND name = 'events_by_month'",
        parameters={"db": db},
    ).result_rows
    swapped = old_table == [("",)]
    if swapped:
        late = process_batch([_report("late", 6)], CATALOGUE, AT).events
        client.raw_insert(
            f"{db}.events_by_month", list(EVENT_COLUMNS),
            insert_block=encode_columns(dict(zip(EVENT_COLUMNS, event_columns(late, ""), strict=True))),
            fmt="JSONColumns", settings={"date_time_input_format": "best_effort"},
        )  # fmt: skip
    assert migrate(client, db) == 1  # the next start finishes it

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
    assert sink.repair_derived() == []
    # A new report after the upgrade goes through every view once.
    sink.write_events(process_batch([_report("after", 4)], CATALOGUE, AT).events)
    assert client.query(rows).result_rows == [(n + 1, n + 1, 5)]
    assert client.query(counts).result_rows == [(n - 4, persons + 4)]


class _ErasingAt(_KilledAt):
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
    client = _old_release(engine_dir, db, monkeypatch)
    assert migrate(_ErasingAt(client, erased_at.format(db=db), db), db) == 1  # type: ignore[arg-type]

    assert client.query(f"SELECT count() FROM {db}.erased").result_rows == [(1,)]  # it did erase
    ids = client.query(f"SELECT report_id FROM {db}.events FINAL WHERE report_id = 'r-9'").result_rows
    assert ids == []
    counts = f"SELECT sum(reports), sum(persons) FROM {db}.crossing_counts"
    assert client.query(counts).result_rows == [(19, 200)]  # r-9 had 10 persons
    assert ClickHouseIncidentSink(client, db).repair_derived() == []


def test_report_keys_and_positions_a_kill_left_out_are_repaired(engine_dir: Path) -> None:
    client = connect(f"chdb://{engine_dir}")
    db = "bw_repair_derived"
    client.command(f"DROP DATABASE IF EXISTS {db}")
    migrate(client, db)
    sink = ClickHouseIncidentSink(client, db)
    line = orjson.dumps({"authority": "ES-GC", "report_id": "fix", "observed_at": "2026-11-20T03:00:00Z",
                         "source": "ais", "lat": 35.5, "lon": 12.605, "mmsi": 224000001})  # fmt: skip
    sink.write_events(process_batch([RawMessage("reports.vessels", 0, 0, line, ReportKind.VESSEL)],
                                    CATALOGUE, AT).events)  # fmt: skip
    for table in ("report_keys", "vessel_positions"):  # as if the views' inserts never happened
        client.command(f"TRUNCATE TABLE {db}.{table}")
    assert (
        sink.stored_sources(
            process_batch(
                [RawMessage("reports.vessels", 0, 0, line, ReportKind.VESSEL)], CATALOGUE, AT
            ).events
        )
        == {}
    )
    assert sorted(sink.repair_derived()) == ["report_keys", "vessel_positions"]
    assert sink.repair_derived() == []
    again = process_batch([RawMessage("reports.vessels", 0, 0, line, ReportKind.VESSEL)], CATALOGUE, AT)
    assert list(sink.stored_sources(again.events)) == [("ES-GC", "fix")]


def test_one_migrator_at_a_time_and_a_dead_ones_lock_is_taken_over(
    engine_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = connect(f"chdb://{engine_dir}")
    db = "bw_lock"
    client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    client.command(f"DROP TABLE IF EXISTS {db}.migration_lock")
    monkeypatch.setattr("streams.sinks.clickhouse.sink.LOCK_CONFIRM_S", 0.6)
    with migration_lock(client, db, 5.0) as beat:
        started = time.monotonic()
        with (
            pytest.raises(SinkUnavailableError, match=f"DROP TABLE {db}.migration_lock"),
            migration_lock(client, db, 1.0),
        ):
            pass
        assert time.monotonic() - started >= 1.0  # it waited for the holder, who beat just now
        monkeypatch.setattr("streams.sinks.clickhouse.sink.LOCK_STALE_S", -1)
        # Silent, but one of its queries is running (a long copy): alive.
        slow = threading.Thread(
            target=client.query, args=("SELECT sleepEachRow(1) FROM numbers(3) SETTINGS max_block_size = 1",)
        )
        slow.start()
        time.sleep(0.3)
        with (
            pytest.raises(SinkUnavailableError, match="held"),
            connect(f"chdb://{engine_dir}") as other,
            migration_lock(other, db, 1.0),
        ):
            pass
        slow.join()
        started = time.monotonic()
        with migration_lock(client, db, 5.0):  # silent and idle: taken for dead
            assert time.monotonic() - started >= 0.6  # once it was seen so for LOCK_CONFIRM_S
            with pytest.raises(SinkUnavailableError, match="taken over"):
                beat()  # the first holder, alive after all, stops at its next step
            lock = f"SELECT count() FROM system.tables WHERE database = '{db}' AND name = 'migration_lock'"
            assert client.query(lock).result_rows == [(1,)]  # the new holder's lock stands
    assert client.query(
        "SELECT count() FROM system.tables WHERE database = %(db)s AND name = 'migration_lock'",
        parameters={"db": db},
    ).result_rows == [(0,)]  # fmt: skip
    assert client.get_client_setting("log_comment") in (None, "")


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
    with monkeypatch.context() as patch:
        if upgrade:  # written by the release before, then rebuilt by month
            patch.setattr(
                "streams.sinks.clickhouse.sink.MIGRATIONS", MIGRATIONS[: MIGRATIONS.index(_events_by_month)]
            )
        migrate(client, db)
        ClickHouseIncidentSink(client, db).write_events(
            process_batch(_many_months(150), CATALOGUE, AT).events
        )
    migrate(client, db)
    assert client.query(f"SELECT count(), uniqExact(_partition_id) FROM {db}.events").result_rows == [
        (150, 150)
    ]
    assert client.query(f"SELECT count() FROM {db}.report_keys").result_rows == [(150,)]
    assert client.query(f"SELECT sum(reports) FROM {db}.crossing_counts").result_rows == [(150,)]


def test_counts_apart_from_events_get_a_delta_and_the_groups_that_agree_are_untouched(
    engine_dir: Path,
) -> None:
    client = connect(f"chdb://{engine_dir}")
    db = "bw_repair_counts"
    client.command(f"DROP DATABASE IF EXISTS {db}")
    migrate(client, db)
    sink = ClickHouseIncidentSink(client, db)
    lines = [orjson.dumps({"authority": "ES-GC", "report_id": f"c-{n}", "lat": 35.5, "lon": 12.605,
                           "observed_at": f"2026-11-20T0{n}:00:00Z", "persons": 10 + n,
                           "incident_type": "irregular_crossing_attempt"}) for n in range(3)]  # fmt: skip
    messages = [
        RawMessage("reports.interceptions", 0, n, v, ReportKind.INTERCEPTION) for n, v in enumerate(lines)
    ]
    sink.write_events(process_batch(messages, CATALOGUE, AT).events)
    groups = (
        f"SELECT minute, sum(reports), sum(persons) FROM {db}.crossing_counts GROUP BY minute ORDER BY minute"
    )
    before = client.query(groups).result_rows
    assert [row[1:] for row in before] == [(1, 10), (1, 11), (1, 12)]
    # As if a kill had cut the views short for the second report, and an erasure's negative row
    # had landed for the third while its event stayed.
    counts = f"{db}.crossing_counts"
    client.command(
        f"ALTER TABLE {counts} DELETE WHERE minute = %(m)s SETTINGS mutations_sync = 2",
        parameters={"m": before[1][0]},
    )
    third = client.query(
        f"SELECT minute, crossing_id, route, incident_type, -1, -12 FROM {counts} WHERE minute = %(m)s",
        parameters={"m": before[2][0]},
    ).result_rows
    columns = ["minute", "crossing_id", "route", "incident_type", "reports", "persons"]
    client.insert(counts, third, column_names=columns)
    assert client.query(groups).result_rows[1:] == [(before[2][0], 0, 0)]
    rows = f"SELECT count() FROM {db}.crossing_counts"
    stored = client.query(rows).result_rows[0][0]

    sink.shared = True  # as on a server other workers write to: these events are fresh, and left
    assert sink.repair_counts() is False
    # Settled, but an erasure began a moment ago: its negative row may be on its way; left too.
    client.insert(f"{db}.erased", [["ES-GC", "other"]], column_names=["authority", "report_id"])
    sink._unsettled_groups = lambda: "SELECT toDateTime(0), '', '', '' WHERE 0"  # type: ignore[method-assign]
    assert sink.repair_counts() is False
    sink.shared = False
    assert sink.repair_counts() is True
    assert client.query(groups).result_rows == before
    assert client.query(rows).result_rows[0][0] == stored + 2  # one delta row per group apart, none else
    assert sink.repair_counts() is False


class _Recording(_KilledAt):
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
    sink.write_events(process_batch([_report("fg", 3)], CATALOGUE, AT).events)
    sink.write_rejects([letter(7)])
    for table in (f"{db}.events", f"{db}.rejects"):
        assert recording.inserts[table]["distributed_foreground_insert"] == 1, table
        assert recording.inserts[table]["insert_deduplication_token"], table
    assert sink.totals() == {"events": 1, "rejects": 1}  # and chdb takes the setting


def test_an_ordinary_database_is_refused_with_what_to_do(engine_dir: Path) -> None:
    client = connect(f"chdb://{engine_dir}")
    client.command("DROP DATABASE IF EXISTS bw_ordinary")
    client.command(
        "CREATE DATABASE bw_ordinary ENGINE = Ordinary", settings={"allow_deprecated_database_ordinary": 1}
    )
    with pytest.raises(SinkUnavailableError, match=r"engine Ordinary.*convert_ordinary_to_atomic"):
        migrate(client, "bw_ordinary")
    assert client.query("SELECT count() FROM system.tables WHERE database = 'bw_ordinary' "
                        "AND name != 'schema_migrations'").result_rows == [(0,)]  # fmt: skip
