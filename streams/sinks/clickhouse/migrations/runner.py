"""The migration runner: applies the migrations a database has not had yet, in version order, once each."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

from clickhouse_connect.driver.client import Client

from schemas.errors import SinkUnavailableError
from streams.sinks.clickhouse.connection import shared_server
from streams.sinks.clickhouse.migrations import (
    m0001_events,
    m0002_crossing_counts,
    m0003_crossing_counts_view,
    m0004_rejects,
    m0005_alerts,
    m0006_transitions,
    m0007_events_source_cluster,
    m0008_rejects_by_cluster,
    m0009_broker_clusters,
    m0010_retention_applied,
    m0011_erased,
    m0012_signed_counts,
    m0013_events_by_month,
    m0014_alert_operations,
)
from streams.sinks.clickhouse.migrations.lock import Beat, migration_lock, no_beat
from streams.sinks.clickhouse.schema import DEDUP_WINDOW

# A migration is a statement, formatted with the database and the dedup window, or a function
# given the client, the database and the lock's heartbeat (to call between long steps), which
# must be safe to run again after a crash.
Migration = str | Callable[[Client, str, Beat], None]
# Each by the version its file declares, which schema_migrations records: never by position.
MIGRATIONS: dict[int, Migration] = {
    m0001_events.VERSION: m0001_events.STATEMENT,
    m0002_crossing_counts.VERSION: m0002_crossing_counts.STATEMENT,
    m0003_crossing_counts_view.VERSION: m0003_crossing_counts_view.STATEMENT,
    m0004_rejects.VERSION: m0004_rejects.STATEMENT,
    m0005_alerts.VERSION: m0005_alerts.STATEMENT,
    m0006_transitions.VERSION: m0006_transitions.STATEMENT,
    m0007_events_source_cluster.VERSION: m0007_events_source_cluster.STATEMENT,
    m0008_rejects_by_cluster.VERSION: m0008_rejects_by_cluster.apply,
    m0009_broker_clusters.VERSION: m0009_broker_clusters.STATEMENT,
    m0010_retention_applied.VERSION: m0010_retention_applied.STATEMENT,
    m0011_erased.VERSION: m0011_erased.STATEMENT,
    m0012_signed_counts.VERSION: m0012_signed_counts.STATEMENT,
    m0013_events_by_month.VERSION: m0013_events_by_month.apply,
    m0014_alert_operations.VERSION: m0014_alert_operations.apply,
}


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
    lock = migration_lock(client, db, lock_wait_s) if shared_server(client) else nullcontext(no_beat)
    with lock as beat:
        applied = 0
        for version in _pending(client, db):  # again: the one who held the lock may have done them
            statement = MIGRATIONS[version]
            if isinstance(statement, str):
                client.command(statement.format(db=db, window=DEDUP_WINDOW))
            else:
                statement(client, db, beat)
            client.insert(f"{db}.schema_migrations", [[version]], column_names=["version"])
            beat()
            applied += 1
    return applied


def _pending(client: Client, db: str) -> list[int]:
    """The versions not recorded in `{db}.schema_migrations`, in version order."""
    done = {row[0] for row in client.query(f"SELECT version FROM {db}.schema_migrations").result_rows}
    return [version for version in sorted(MIGRATIONS) if version not in done]
