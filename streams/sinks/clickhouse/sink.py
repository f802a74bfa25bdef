"""Sink stage: ClickHouse tables, migrations, columnar inserts and analyst queries."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError
from clickhouse_connect.driver.httpclient import HttpClient

from schemas.codec import encode_columns, encode_obj
from schemas.errors import SinkUnavailableError
from schemas.rejection import DeadLetter
from schemas.reports import InterceptionReport, VesselReport
from streams.stages.enrich import Enriched, Source

log = logging.getLogger(__name__)
DEDUP_WINDOW = 100_000  # blocks remembered for insert_deduplication_token
IN_FLIGHT_S = 60  # events younger than this may still be on their way through the views
ELSEWHERE = Source("", -1, -1)  # a stored source in another broker's log: equal to none here

REJECTS_TABLE = """CREATE TABLE IF NOT EXISTS {{db}}.{table} (
        source_topic LowCardinality(String),
        source_partition UInt32,
        source_offset UInt64,{cluster}
        reason LowCardinality(String),
        field String,
        detail String,
        received_at DateTime64(3, 'UTC'),
        raw String
    ) ENGINE = ReplacingMergeTree
    ORDER BY ({key}source_topic, source_partition, source_offset)
    SETTINGS non_replicated_deduplication_window = {{window}}"""


def _key_rejects_by_cluster(client: Client, db: str, beat: Callable[[], None]) -> None:
    """Rebuild `rejects` with the source's cluster in its key (ReplacingMergeTree would merge
    the same offset of two logs into one row); run again after a crash, it finishes the job."""
    columns = {row[0] for row in client.query(
        "SELECT name FROM system.columns WHERE database = %(db)s AND table = 'rejects'", parameters={"db": db}
    ).result_rows}  # fmt: skip
    if "source_cluster" not in columns:
        new = REJECTS_TABLE.format(
            table="rejects_by_cluster", cluster="\n        source_cluster LowCardinality(String),",
            key="source_cluster, ",
        )  # fmt: skip
        client.command(new.format(db=db, window=DEDUP_WINDOW))
        client.command(f"TRUNCATE TABLE {db}.rejects_by_cluster")  # a copy a crash cut short
        kept = ", ".join(c for c in REJECT_COLUMNS if c != "source_cluster")
        client.command(f"INSERT INTO {db}.rejects_by_cluster ({kept}) SELECT {kept} FROM {db}.rejects FINAL")
        client.command(f"EXCHANGE TABLES {db}.rejects AND {db}.rejects_by_cluster")
    client.command(f"DROP TABLE IF EXISTS {db}.rejects_by_cluster")


# Production scale (docs/operations/clickhouse.md): events in monthly partitions, in the order
# analysts filter by; the identity lookup of every batch goes to `report_keys` instead.
EVENTS_BY_MONTH = """CREATE TABLE IF NOT EXISTS {db}.{table} (
        authority LowCardinality(String),
        report_id String,
        kind LowCardinality(String),
        observed_at DateTime64(3, 'UTC'),
        reported_at Nullable(DateTime64(3, 'UTC')),
        received_at DateTime64(3, 'UTC'),
        published_at Nullable(DateTime64(3, 'UTC')),
        inserted_at DateTime64(3, 'UTC') DEFAULT now64(3),
        lat_deg Nullable(Float64),
        lon_deg Nullable(Float64),
        crossing_id LowCardinality(String),
        country LowCardinality(String),
        route LowCardinality(String),
        incident_type LowCardinality(String),
        persons UInt32,
        nationalities Map(LowCardinality(String), UInt32),
        vessel_key String,
        source_topic LowCardinality(String),
        source_partition UInt32,
        source_offset UInt64,
        source_cluster LowCardinality(String) DEFAULT '',
        report String
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(observed_at)
    ORDER BY (crossing_id, observed_at, authority, report_id)
    SETTINGS non_replicated_deduplication_window = {window}"""
EVENTS_PARTITION_KEY = "toYYYYMM(observed_at)"
# Reports may be from any month since 2000: an insert of many months is slow, never refused.
ANY_PARTITIONS = "throw_on_max_partitions_per_insert_block = 0"
# Each report's identity and where it was first read: the sink's check before every insert.
REPORT_KEYS = """CREATE TABLE IF NOT EXISTS {db}.report_keys (
        authority LowCardinality(String),
        report_id String,
        source_topic LowCardinality(String),
        source_partition UInt32,
        source_offset UInt64,
        source_cluster LowCardinality(String),
        observed_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree
    ORDER BY (authority, report_id)
    SETTINGS index_granularity = 1024"""  # a batch's keys are looked up one granule each
REPORT_KEY_COLUMNS = (
    "authority, report_id, source_topic, source_partition, source_offset, source_cluster, observed_at"
)
# Vessel positions, per vessel in time order, kept for their own retention (clickhouse/retention.py).
VESSEL_POSITIONS = """CREATE TABLE IF NOT EXISTS {db}.vessel_positions (
        vessel_key String,
        observed_at DateTime64(3, 'UTC'),
        lat_deg Float64,
        lon_deg Float64,
        crossing_id LowCardinality(String),
        route LowCardinality(String),
        authority LowCardinality(String),
        report_id String,
        received_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(observed_at)
    ORDER BY (vessel_key, observed_at, authority, report_id)"""
VESSEL_POSITION_ROWS = (
    "SELECT vessel_key, observed_at, assumeNotNull(lat_deg) AS lat_deg, assumeNotNull(lon_deg) AS lon_deg, "
    "crossing_id, route, authority, report_id, received_at FROM {db}.events{final} "
    "WHERE kind = 'vessel' AND lat_deg IS NOT NULL AND lon_deg IS NOT NULL"
)
CROSSING_COUNTS_ROWS = (
    "SELECT toStartOfMinute(observed_at) AS minute, crossing_id, route, incident_type, "
    "count() AS reports, sum(persons) AS persons FROM {db}.events{final} WHERE kind = 'interception' "
    "GROUP BY minute, crossing_id, route, incident_type"
)
# The views that derive tables from events, by name: each inserts what every events insert adds.
DERIVED_VIEWS = {
    "crossing_counts_mv": ("crossing_counts", CROSSING_COUNTS_ROWS),
    "report_keys_mv": ("report_keys", f"SELECT {REPORT_KEY_COLUMNS} FROM {{db}}.events{{final}}"),
    "vessel_positions_mv": ("vessel_positions", VESSEL_POSITION_ROWS),
}


def _events_by_month(client: Client, db: str, beat: Callable[[], None]) -> None:
    """Rebuild `events` partitioned by month and ordered by crossing and time, with `report_keys` and
    `vessel_positions` derived from it; run again after a crash, it finishes the job.

    A worker of the release before may still be writing, so `events` is never
    away: the copy is made beside it, the two are exchanged, and what was
    written to the old table meanwhile is copied across after. The views are
    dropped for the exchange and made again; the counts, keys and positions
    of what went by without them are then repaired from `events`. The old
    table is dropped only once every report in it is in `events`. Each step is
    found done or not by the tables and their partition keys.
    """
    old = "events_by_month"  # the copy before the exchange; the old table after it

    def command(sql: str, final: str = "") -> None:
        client.command(sql.format(db=db, window=DEDUP_WINDOW, final=final, table=old))
        beat()

    def partition_key(name: str) -> str | None:
        rows = client.query(
            "SELECT partition_key FROM system.tables WHERE database = %(db)s AND name = %(name)s",
            parameters={"db": db, "name": name},
        ).result_rows
        return str(rows[0][0]) if rows else None

    columns = ", ".join(("inserted_at", *EVENT_COLUMNS))
    missing = (  # an erased report is not missing: an old worker may erase meanwhile
        f"FROM {{db}}.{old} FINAL WHERE (authority, report_id) NOT IN "
        "(SELECT authority, report_id FROM {db}.events) "
        "AND (authority, report_id) NOT IN (SELECT authority, report_id FROM {db}.erased)"
    )

    def catch_up() -> int:
        """Copy across the reports written to the old table since the copy; how many were missing."""
        count = int(client.query(f"SELECT count() {missing}".format(db=db)).result_rows[0][0])
        if count:
            command(
                f"INSERT INTO {{db}}.events ({columns}) SELECT {columns} {missing} SETTINGS {ANY_PARTITIONS}"
            )
        return count

    command(REPORT_KEYS)
    command(VESSEL_POSITIONS)
    if partition_key("events") != EVENTS_PARTITION_KEY:
        command(EVENTS_BY_MONTH)
        command("TRUNCATE TABLE {db}.{table}")  # a copy a crash cut short
        command(
            f"INSERT INTO {{db}}.{old} ({columns}) SELECT {columns} FROM {{db}}.events FINAL "
            f"SETTINGS {ANY_PARTITIONS}"
        )
        for view in DERIVED_VIEWS:  # a view stays with its table: made again on the new one below
            command(f"DROP VIEW IF EXISTS {{db}}.{view}")
        # The rebuilt table has no TTL yet: let the worker's start set it again (retention.py).
        command("DELETE FROM {db}.retention_applied WHERE name LIKE 'events.%'")
        command("EXCHANGE TABLES {db}.events AND {db}.{table}")
    swapped = partition_key(old) not in (None, EVENTS_PARTITION_KEY)
    if swapped:
        erased = "(authority, report_id) IN (SELECT authority, report_id FROM {db}.erased)"
        if client.query(f"SELECT count() FROM {{db}}.events WHERE {erased}".format(db=db)).result_rows[0][0]:
            command(f"DELETE FROM {{db}}.events WHERE {erased}")  # erased after the copy was made
        catch_up()  # before the views: what the old views counted is not counted again
    for view, (derived, rows) in DERIVED_VIEWS.items():
        if partition_key(view) is not None:
            continue
        if derived != "crossing_counts":  # the counts were kept: they carry erasures' negative rows
            command(f"TRUNCATE TABLE {{db}}.{derived}")
        command(f"CREATE MATERIALIZED VIEW {{db}}.{view} TO {{db}}.{derived} AS {rows}")
    if not swapped:
        command("DROP TABLE IF EXISTS {db}.{table}")  # a copy an earlier release's crash left
        return
    sink = ClickHouseIncidentSink(client, db)
    held = int(client.query(f"SELECT count() FROM {db}.{old}").result_rows[0][0])
    if sink.shared and held:  # an old worker's inserts begun before the exchange may still land there
        for _ in range(IN_FLIGHT_S // 10):
            time.sleep(10)
            beat()
        catch_up()
    sink.repair_derived()  # the keys, positions and counts of what went by without the views
    beat()
    if sink.shared and (left := sink.unsettled()):
        log.warning("%s count groups have events from the last minute: the next start checks them", left)
    if catch_up():
        raise SinkUnavailableError(
            f"reports still arrive in the old {db}.{old}: nothing dropped, the next start copies them"
        )
    command("DROP TABLE {db}.{table}")


# Ordered migrations; each is applied once and recorded in schema_migrations. A
# statement is formatted with the database and the dedup window; a function is
# given the client, the database and the lock's heartbeat (to call between long
# steps), and must be safe to run again after a crash.
Migration = str | Callable[[Client, str, Callable[[], None]], None]
MIGRATIONS: tuple[Migration, ...] = (
    """CREATE TABLE IF NOT EXISTS {db}.events (
        authority LowCardinality(String),
        report_id String,
        kind LowCardinality(String),
        observed_at DateTime64(3, 'UTC'),
        reported_at Nullable(DateTime64(3, 'UTC')),
        received_at DateTime64(3, 'UTC'),
        published_at Nullable(DateTime64(3, 'UTC')),
        inserted_at DateTime64(3, 'UTC') DEFAULT now64(3),
        lat_deg Nullable(Float64),
        lon_deg Nullable(Float64),
        crossing_id LowCardinality(String),
        country LowCardinality(String),
        route LowCardinality(String),
        incident_type LowCardinality(String),
        persons UInt32,
        nationalities Map(LowCardinality(String), UInt32),
        vessel_key String,
        source_topic LowCardinality(String),
        source_partition UInt32,
        source_offset UInt64,
        report String
    ) ENGINE = ReplacingMergeTree
    ORDER BY (authority, report_id)
    SETTINGS non_replicated_deduplication_window = {window}""",
    """CREATE TABLE IF NOT EXISTS {db}.crossing_counts (
        minute DateTime('UTC'),
        crossing_id LowCardinality(String),
        route LowCardinality(String),
        incident_type LowCardinality(String),
        reports UInt64,
        persons UInt64
    ) ENGINE = SummingMergeTree
    ORDER BY (minute, crossing_id, route, incident_type)""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.crossing_counts_mv TO {db}.crossing_counts AS
    SELECT toStartOfMinute(observed_at) AS minute, crossing_id, route, incident_type,
           count() AS reports, sum(persons) AS persons
    FROM {db}.events WHERE kind = 'interception'
    GROUP BY minute, crossing_id, route, incident_type""",
    REJECTS_TABLE.format(table="rejects", cluster="", key=""),
    """CREATE TABLE IF NOT EXISTS {db}.alerts (
        id String,
        version UInt32,
        kind LowCardinality(String),
        status LowCardinality(String),
        impact LowCardinality(String),
        confidence Float32,
        zone_id LowCardinality(String),
        route LowCardinality(String),
        window_start DateTime64(3, 'UTC'),
        window_end DateTime64(3, 'UTC'),
        event_ids Array(String),
        vessel_ids Array(String),
        lat_deg Nullable(Float64),
        lon_deg Nullable(Float64),
        headline String,
        description String,
        notify Bool,
        opened_at DateTime64(3, 'UTC'),
        sent_at DateTime64(3, 'UTC'),
        inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY id""",
    # Geofence transitions as data (sinks/clickhouse/transition_table.py): one row per
    # (zone, vessel, fix, direction).
    """CREATE TABLE IF NOT EXISTS {db}.transitions (
        vessel_key String,
        mmsi String,
        imo String,
        name String,
        callsign String,
        vessel_type LowCardinality(String),
        zone_id LowCardinality(String),
        route LowCardinality(String),
        direction LowCardinality(String),
        observed_at DateTime64(3, 'UTC'),
        event_id String,
        lat_deg Float64,
        lon_deg Float64,
        received_at Nullable(DateTime64(3, 'UTC')),
        inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree
    ORDER BY (zone_id, vessel_key, event_id, direction)
    SETTINGS non_replicated_deduplication_window = {window}""",
    # Offsets are positions in one broker's log; a broker that lost its log starts them
    # again under a new cluster id, so each stored position names its cluster too.
    """ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS source_cluster LowCardinality(String) DEFAULT ''
    AFTER source_offset""",
    _key_rejects_by_cluster,
    """CREATE TABLE IF NOT EXISTS {db}.broker_clusters (
        cluster_id String,
        first_seen DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = MergeTree
    ORDER BY cluster_id""",
    # The TTLs applied last (streams/sinks/clickhouse/retention.py).
    """CREATE TABLE IF NOT EXISTS {db}.retention_applied (
        name String,
        statement String,
        applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = MergeTree
    ORDER BY name""",
    # Erasure (streams/sinks/clickhouse/erase.py): the identities erased, and counts that can take a
    # compensating negative row.
    """CREATE TABLE IF NOT EXISTS {db}.erased (
        authority String,
        report_id String,
        erased_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree
    ORDER BY (authority, report_id)""",
    "ALTER TABLE {db}.crossing_counts MODIFY COLUMN reports Int64, MODIFY COLUMN persons Int64",
    _events_by_month,
)

EVENT_COLUMNS = (
    "authority", "report_id", "kind", "observed_at", "reported_at", "received_at", "published_at", "lat_deg",
    "lon_deg", "crossing_id", "country", "route", "incident_type", "persons", "nationalities",
    "vessel_key", "source_topic", "source_partition", "source_offset", "source_cluster", "report",
)  # fmt: skip
REJECT_COLUMNS = (
    "source_topic", "source_partition", "source_offset", "source_cluster", "reason", "field", "detail",
    "received_at", "raw",
)  # fmt: skip


TLS_OPTIONS = frozenset({"interface", "secure", "verify", "ca_cert", "client_cert", "client_cert_key"})


def connect(dsn: str, ca_file: Path | None = None) -> Client:
    """A clickhouse-connect client for a chdb:// or http(s):// DSN; over https the server's certificate
    and name are checked, against `ca_file` (a PEM bundle) when given, else the system's CAs."""
    scheme = urlsplit(dsn).scheme
    given = {name.lower() for name in parse_qs(urlsplit(dsn).query)}
    if given & {"password", "access_token"}:
        raise SinkUnavailableError(
            "the ClickHouse DSN may not carry a secret in its query: put the password in "
            "BORDERWATCH_CLICKHOUSE_PASSWORD_FILE"
        )
    overrides = sorted(TLS_OPTIONS & given)
    if overrides:  # clickhouse-connect lets the DSN's query win over the arguments below
        raise SinkUnavailableError(
            f"the ClickHouse DSN may not set {', '.join(overrides)}: TLS follows its scheme, and the CA "
            "file is BORDERWATCH_CLICKHOUSE_CA_FILE"
        )
    if password_in_clear(dsn):
        log.warning("the ClickHouse password goes in clear over http:// to %s: use https://", redact_dsn(dsn))
    try:
        if scheme not in ("http", "https"):
            return clickhouse_connect.get_client(dsn=dsn)
        # clickhouse-connect 1.12 takes TLS from the port (443, 8443), not from the DSN's scheme:
        # https:// on any other port would go out as plain http, password and all.
        return clickhouse_connect.get_client(
            dsn=dsn, interface=scheme, verify=True, ca_cert=str(ca_file) if ca_file else None
        )
    except Exception as error:
        raise SinkUnavailableError(
            f"cannot connect to ClickHouse at {redact_dsn(dsn)!r}: {error}".replace(dsn, redact_dsn(dsn))
        ) from error


def password_in_clear(dsn: str) -> bool:
    """Whether the DSN sends a password over plain http:// to another machine."""
    parts = urlsplit(dsn)
    if parts.scheme != "http" or not parts.password:
        return False
    try:
        return not ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return parts.hostname != "localhost"


def redact_dsn(dsn: str) -> str:
    """The DSN with its password replaced by ***, for messages and logs."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    query = re.sub(r"(?i)(^|&)(password|access_token)=[^&]*", r"\1\2=***", parts.query)
    if (netloc, query) == (parts.netloc, parts.query):
        return dsn  # as given: urlunsplit would drop chdb:///'s empty host
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def migrate(client: Client, db: str, lock_wait_s: float = 900.0) -> int:
    """Create the database and apply pending migrations; safe to run at every start, and from several
    workers at once: one migrates while the others wait for it (`migration_lock`)."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(version UInt32, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version"
    )
    if _pending(client, db) == []:
        return 0
    engine = client.query(
        "SELECT engine FROM system.databases WHERE name = %(db)s", parameters={"db": db}
    ).result_rows[0][0]
    if engine == "Ordinary":
        raise SinkUnavailableError(
            f"database {db} has engine {engine}; borderwatch's migrations swap tables (EXCHANGE TABLES), "
            "which needs an Atomic database: convert it (ClickHouse's flags/convert_ordinary_to_atomic) "
            "or use a new one"
        )
    # chdb is in-process and has one owner (the data dir's worker): only a server is shared.
    lock = (
        migration_lock(client, db, lock_wait_s) if isinstance(client, HttpClient) else nullcontext(_no_beat)
    )
    with lock as beat:
        applied = 0
        for version in _pending(client, db):  # again: the one who held the lock may have done them
            statement = MIGRATIONS[version - 1]
            if isinstance(statement, str):
                client.command(statement.format(db=db, window=DEDUP_WINDOW))
            else:
                statement(client, db, beat)
            client.insert(f"{db}.schema_migrations", [[version]], column_names=["version"])
            beat()
            applied += 1
    return applied


def _no_beat() -> None:
    """chdb has one owner and takes no lock: nobody listens for a heartbeat."""


def _pending(client: Client, db: str) -> list[int]:
    done = {row[0] for row in client.query(f"SELECT version FROM {db}.schema_migrations").result_rows}
    return [version for version in range(1, len(MIGRATIONS) + 1) if version not in done]


LOCK_STALE_S = 120  # a holder silent this long (no beat, no query running) is taken for dead
LOCK_CONFIRM_S = 3.0  # and seen so for this long: a holder is between two steps for milliseconds


@contextmanager
def migration_lock(client: Client, db: str, wait_s: float) -> Iterator[Callable[[], None]]:
    """Hold `{db}.migration_lock` while migrating; yields `beat`, which tells waiters the holder lives.

    CREATE TABLE (without IF NOT EXISTS) succeeds for one caller only, so it
    serves as a mutex on any ClickHouse. The holder's queries carry its name in
    `log_comment`, and it beats between steps: a waiter takes the lock over only
    from a holder with no beat for LOCK_STALE_S and no query running, seen so
    for LOCK_CONFIRM_S. `system.processes` is per node: on a cluster, migrate
    through one node. Raises SinkUnavailableError after `wait_s`.
    """
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    deadline, silent_since = time.monotonic() + wait_s, None
    while True:
        try:
            client.command(
                f"CREATE TABLE {db}.migration_lock (holder String, beat DateTime DEFAULT now()) "
                "ENGINE = Memory COMMENT %(holder)s", parameters={"holder": holder},
            )  # fmt: skip
            break
        except DatabaseError as error:
            if "TABLE_ALREADY_EXISTS" not in str(error):
                raise
        held_by = _silent_holder(client, db)
        if held_by is None:
            silent_since = None
        elif time.monotonic() - (silent_since := silent_since or time.monotonic()) >= LOCK_CONFIRM_S:
            if _silent_holder(client, db) == held_by:  # and not a lock another waiter took just now
                log.warning(
                    "taking over the migration lock of %s, silent for over %s s", held_by, LOCK_STALE_S
                )
                client.command(f"DROP TABLE IF EXISTS {db}.migration_lock")
            silent_since = None
            continue
        if time.monotonic() > deadline:
            raise SinkUnavailableError(
                f"another worker has held {db}.migration_lock for over {wait_s:g} s; if none is migrating "
                f"(one was killed), DROP TABLE {db}.migration_lock"
            )
        time.sleep(0.5)
    comment = client.get_client_setting("log_comment") or ""
    client.set_client_setting("log_comment", _lock_comment(holder))

    def beat() -> None:
        if _lock_holder(client, db) != holder:  # taken for dead and taken over: stop before harm
            raise SinkUnavailableError(f"{db}.migration_lock was taken over from this worker ({holder})")
        client.insert(f"{db}.migration_lock", [[holder]], column_names=["holder"])

    try:
        beat()
        yield beat
    finally:
        client.set_client_setting("log_comment", comment)
        if _lock_holder(client, db) == holder:  # never another holder's lock
            client.command(f"DROP TABLE IF EXISTS {db}.migration_lock")


def _lock_holder(client: Client, db: str) -> str | None:
    """Who holds `{db}.migration_lock` (the table's comment), None when nobody does."""
    held = _lock_table(client, db)
    return held[0] if held else None


def _lock_table(client: Client, db: str) -> tuple[str, int] | None:
    """The lock's holder and the seconds since its table was made; None when there is no lock."""
    rows = client.query(
        "SELECT comment, dateDiff('second', metadata_modification_time, now()) FROM system.tables "
        "WHERE database = %(db)s AND name = 'migration_lock'", parameters={"db": db},
    ).result_rows  # fmt: skip
    return (str(rows[0][0]), int(rows[0][1])) if rows else None


def _lock_comment(holder: str) -> str:
    return f"borderwatch-migration {holder}"


def _silent_holder(client: Client, db: str) -> str | None:
    """The lock's holder when it has neither beat within LOCK_STALE_S nor a query running (on this
    node); None while it lives, or when the lock is gone."""
    held = _lock_table(client, db)
    if held is None:
        return None
    holder, silent_s = held
    try:
        beats = client.query(
            f"SELECT dateDiff('second', max(beat), now()) FROM {db}.migration_lock HAVING count() > 0"
        ).result_rows
    except DatabaseError as error:
        if "UNKNOWN_TABLE" in str(error):
            return None  # released meanwhile
        raise
    if beats:  # else none yet, or the server restarted (Memory): the table's age counts
        silent_s = int(beats[0][0])
    if silent_s <= LOCK_STALE_S:
        return None
    running = client.query(
        "SELECT count() FROM system.processes WHERE Settings['log_comment'] = %(comment)s "
        "AND query_id != queryID()", parameters={"comment": _lock_comment(holder)},
    ).result_rows  # fmt: skip
    return None if int(running[0][0]) else holder


def event_columns(events: Sequence[Enriched], cluster: str) -> list[list[Any]]:
    """The events table's columns for a batch read from broker `cluster`, in EVENT_COLUMNS order."""
    columns: list[list[Any]] = [[] for _ in EVENT_COLUMNS]
    for event in events:
        report = event.report
        interception = report if isinstance(report, InterceptionReport) else None
        detail = interception.persons_detail if interception else None
        row = (
            report.authority,
            report.report_id,
            event.kind.value,
            report.observed_at,
            report.reported_at,
            event.received_at,
            event.published_at,
            report.lat,
            report.lon,
            event.crossing_id,
            event.country,
            event.route,
            interception.incident_type.value if interception else "",
            interception.persons if interception else 0,
            (detail.nationalities or {}) if detail else {},
            report.vessel_key if isinstance(report, VesselReport) else "",
            event.source.topic,
            event.source.partition,
            event.source.offset,
            cluster,
            event.raw.decode("utf-8"),
        )
        for column, value in zip(columns, row):
            column.append(value)
    return columns


def reject_columns(dead_letters: Sequence[DeadLetter], cluster: str) -> list[list[Any]]:
    """The rejects table's columns for a batch read from broker `cluster`, in REJECT_COLUMNS order."""
    return [
        [d.source_topic for d in dead_letters],
        [d.source_partition for d in dead_letters],
        [d.source_offset for d in dead_letters],
        [cluster] * len(dead_letters),
        [d.reason.value for d in dead_letters],
        [d.field for d in dead_letters],
        [d.detail for d in dead_letters],
        [d.received_at for d in dead_letters],
        [d.raw for d in dead_letters],
    ]


def once_settings(token: str) -> dict[str, Any]:
    """The settings of an insert that must land once: its block's token, and through a Distributed
    table (a cluster) the insert answers only once every shard has the rows, so a committed offset
    never runs ahead of what the shards hold, and the token reaches them."""
    return {"insert_deduplication_token": token, "distributed_foreground_insert": 1}


def batch_token(kind: str, identities: Sequence[tuple[object, ...]]) -> str:
    """A deterministic identity for an insert: the same rows give the same token."""
    digest = hashlib.sha256(kind.encode())
    for identity in sorted(identities, key=repr):
        digest.update(repr(identity).encode())
    return f"{kind}-{digest.hexdigest()}"


class ClickHouseIncidentSink:
    """Writes accepted events and rejects; counts each report once however often it arrives."""

    def __init__(self, client: Client, db: str) -> None:
        self.client = client
        self.db = db
        self.cluster = ""  # the broker whose log the sink's sources are read from: see `open_log`
        self.earlier: list[str] = []  # the clusters before it, when it is new to this data
        self._log_clusters: tuple[str, ...] = ("",)
        self.shared = isinstance(client, HttpClient)  # a server other workers write to; chdb has one owner

    def open_log(self, cluster: str) -> list[str]:
        """Read sources from broker `cluster` from now on; the clusters stored before, when it is new.

        A stored source position names a message only within its cluster's log,
        so a report or dead letter is a crash replay of a stored one only there.
        Rows stored before clusters were recorded ('') belong to the first one.
        """
        seen = [str(row[0]) for row in self.client.query(
            f"SELECT cluster_id FROM {self.db}.broker_clusters GROUP BY cluster_id ORDER BY min(first_seen)"
        ).result_rows]  # fmt: skip
        if cluster not in seen:
            self.client.insert(f"{self.db}.broker_clusters", [[cluster]], column_names=["cluster_id"])
        self.cluster = cluster
        self.earlier = [] if cluster in seen else seen
        self._log_clusters = (cluster, "") if seen[:1] in ([], [cluster]) else (cluster,)
        return self.earlier

    def stored_sources(self, events: Sequence[Enriched]) -> dict[tuple[str, str], Source]:
        """For the events already stored, the log position each was first read from
        (`ELSEWHERE` when that was another broker's log, or when the report was erased)."""
        if not events:
            return {}
        # The keys travel as one JSON string: binding thousands of tuples costs more.
        keyed = "SELECT arrayJoin(JSONExtract(%(keys)s, 'Array(Tuple(String, String))'))"
        keys = f"(authority, report_id) IN ({keyed})"
        rows = self.client.query(
            "SELECT authority, report_id, source_topic, source_partition, source_offset, source_cluster, 0 "
            f"FROM {self.db}.report_keys WHERE {keys} UNION ALL "
            f"SELECT authority, report_id, '', 0, 0, '', 1 FROM {self.db}.erased WHERE {keys}",
            parameters={"keys": encode_obj([e.identity for e in events]).decode()},
        ).result_rows
        here = self._log_clusters
        stored: dict[tuple[str, str], Source] = {}
        for authority, report_id, topic, partition, offset, cluster, erased in sorted(
            rows, key=lambda r: r[6]
        ):
            readable = cluster in here and not erased
            stored[(authority, report_id)] = Source(topic, partition, offset) if readable else ELSEWHERE
        return stored

    def write_events(self, events: Sequence[Enriched]) -> None:
        """Insert a batch of new events (see `stored_sources`) as one block."""
        if not events:
            return
        token = batch_token("events", [e.identity for e in events])
        # JSONColumns: a columnar format that ClickHouse parses in C++, twice as fast
        # here as clickhouse-connect's Python Native encoder.
        self.client.raw_insert(
            f"{self.db}.events", list(EVENT_COLUMNS),
            insert_block=encode_columns(dict(zip(EVENT_COLUMNS, event_columns(events, self.cluster)))),
            fmt="JSONColumns",
            settings={**once_settings(token), "date_time_input_format": "best_effort",
                      "deduplicate_blocks_in_dependent_materialized_views": 1,
                      "throw_on_max_partitions_per_insert_block": 0},  # ANY_PARTITIONS
        )  # fmt: skip

    def write_rejects(self, dead_letters: Sequence[DeadLetter]) -> None:
        """Insert the rejects not stored yet as one block: each source position is stored once.

        A dead letter comes round again when its batch is replayed after a crash
        (the input offset was not committed), in a batch cut differently, so the
        insert token alone would not see it; the sink checks what is stored.
        """
        fresh: dict[tuple[str, int, int], DeadLetter] = {}
        for d in dead_letters:
            fresh.setdefault((d.source_topic, d.source_partition, d.source_offset), d)
        for key in self._stored_rejects(list(fresh)):
            fresh.pop(key, None)
        if not fresh:
            return
        token = batch_token("rejects", [(self.cluster, *key) for key in fresh])
        self.client.insert(
            f"{self.db}.rejects", reject_columns(list(fresh.values()), self.cluster),
            column_names=list(REJECT_COLUMNS),
            column_oriented=True, settings=once_settings(token),
        )  # fmt: skip

    def _stored_rejects(self, keys: list[tuple[str, int, int]]) -> set[tuple[str, int, int]]:
        if not keys:
            return set()
        rows = self.client.query(
            "SELECT source_topic, source_partition, source_offset "
            f"FROM {self.db}.rejects WHERE source_cluster IN %(clusters)s "
            "AND (source_topic, source_partition, source_offset) IN ("
            "SELECT arrayJoin(JSONExtract(%(keys)s, 'Array(Tuple(String, UInt32, UInt64))')))",
            parameters={"keys": encode_obj(keys).decode(), "clusters": self._log_clusters},
        ).result_rows
        return {(str(t), int(p), int(o)) for t, p, o in rows}

    def repair_derived(self, positions_days: int = 0) -> list[str]:
        """Bring the tables derived from events (`DERIVED_VIEWS`) back to agree with it; returns the
        names of those that did not.

        A process killed between the events insert and its materialized views'
        inserts leaves them apart. The keys and positions missing are added
        (never removed: another worker may be writing), and the counts rebuilt.
        A position past its retention (`positions_days`, 0: kept) was removed by
        its TTL, not lost: it is not put back.
        """
        repaired = []
        kept = f" AND received_at >= now() - INTERVAL {positions_days} DAY" if positions_days else ""
        for table, window in (("report_keys", ""), ("vessel_positions", kept)):
            rows = DERIVED_VIEWS[f"{table}_mv"][1].format(db=self.db, final=" FINAL")
            missing = (
                f"SELECT * FROM ({rows}) WHERE (authority, report_id) NOT IN "
                f"(SELECT authority, report_id FROM {self.db}.{table}){window}"
            )
            if self.client.query(f"SELECT count() FROM ({missing})").result_rows[0][0]:
                self.client.command(f"INSERT INTO {self.db}.{table} {missing} SETTINGS {ANY_PARTITIONS}")
                repaired.append(table)
        if self.repair_counts():
            repaired.append("crossing_counts")
        return repaired

    def repair_counts(self) -> bool:
        """Add to crossing_counts what it is short of (or over) events, group by group; True when a
        group was corrected.

        The report filter never re-counts a stored report, so a group the views
        missed is corrected by a delta row (the counts are Int64; SummingMergeTree
        adds it in). The counts are never blanked, and the same insert works
        through a Distributed table. On a shared server a group with events from
        the last `IN_FLIGHT_S` is left: another worker's views may be writing it.
        """
        db, group = self.db, "minute, crossing_id, route, incident_type"
        settled = f" WHERE ({group}) NOT IN ({self._unsettled_groups()})" if self.shared else ""
        if self.shared and self._erasing():
            log.warning("an erasure is under way: the counts are checked at the next start")
            return False
        truth = CROSSING_COUNTS_ROWS.format(db=db, final=" FINAL")
        counted = (
            f"SELECT {group}, sum(reports) AS reports, sum(persons) AS persons "
            f"FROM {db}.crossing_counts GROUP BY {group}"
        )
        deltas = self.client.query(
            f"SELECT * FROM (SELECT {group}, toInt64(t.reports) - toInt64(c.reports) AS more_reports, "
            "toInt64(t.persons) - toInt64(c.persons) AS more_persons "
            f"FROM ({truth}) AS t FULL OUTER JOIN ({counted}) AS c USING ({group}){settled}) "
            "WHERE more_reports != 0 OR more_persons != 0",
            settings={"join_use_nulls": 0},
        ).result_rows
        if deltas:
            self.client.insert(
                f"{db}.crossing_counts",
                deltas,
                column_names=["minute", "crossing_id", "route", "incident_type", "reports", "persons"],
            )
        return bool(deltas)

    def unsettled(self) -> int:
        """How many count groups have events from the last IN_FLIGHT_S."""
        return int(self.client.query(f"SELECT count() FROM ({self._unsettled_groups()})").result_rows[0][0])

    def _erasing(self) -> bool:
        """Whether an erasure began in the last IN_FLIGHT_S: between its events DELETE and its negative
        counts row, the counts are ahead of events, and a delta would subtract the report twice."""
        recent = self.client.query(
            f"SELECT count() FROM {self.db}.erased "
            f"WHERE erased_at >= now64(3) - INTERVAL {IN_FLIGHT_S} SECOND"
        )
        return bool(recent.result_rows[0][0])

    def _unsettled_groups(self) -> str:
        return (
            "SELECT DISTINCT toStartOfMinute(observed_at) AS minute, crossing_id, route, incident_type "
            f"FROM {self.db}.events WHERE kind = 'interception' "
            f"AND inserted_at >= now64(3) - INTERVAL {IN_FLIGHT_S} SECOND"
        )

    def totals(self) -> dict[str, int]:
        """Distinct accepted reports and rejected messages stored so far."""
        events = self.client.query(f"SELECT uniqExact(authority, report_id) FROM {self.db}.events")
        rejects = self.client.query(
            "SELECT uniqExact(source_cluster, source_topic, source_partition, source_offset) "
            f"FROM {self.db}.rejects"
        )
        return {"events": int(events.result_rows[0][0]), "rejects": int(rejects.result_rows[0][0])}
