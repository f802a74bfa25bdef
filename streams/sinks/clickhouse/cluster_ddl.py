"""The schema for a ClickHouse cluster: this release's tables as Replicated*MergeTree with Distributed
tables in front (docs/operations/clickhouse.md).

The DDL is read off the real schema, never written twice: the migrations run
on a scratch database, and each table's `create_table_query` is turned into
its cluster form. Tables that grow with the reports are sharded by a key that
keeps every copy of a report on one shard (so ReplacingMergeTree and the
sink's `report_keys` check see them together); the small bookkeeping tables
are replicated to every node. The materialized views run on each shard's
local tables.
"""

from __future__ import annotations

import re

from clickhouse_connect.driver.client import Client

from streams.sinks.clickhouse.migrations.runner import MIGRATIONS, migrate
from streams.sinks.clickhouse.retention import Retention, apply_retention, ttl_statements

# Sharded tables and the key each is sharded by.
SHARDED = {
    "events": "cityHash64(authority, report_id)",
    "report_keys": "cityHash64(authority, report_id)",
    "vessel_positions": "cityHash64(authority, report_id)",
    "crossing_counts": "rand()",  # SummingMergeTree: every query sums across shards
    "rejects": "cityHash64(source_cluster, source_topic, source_partition, source_offset)",
    "transitions": "cityHash64(vessel_key)",
}
# A retried block is dropped by Replicated*MergeTree itself (insert_deduplication_token):
# enough blocks for minutes of every worker's inserts.
DEDUP_SETTING = "replicated_deduplication_window = 10000"
_ENGINE = re.compile(r"ENGINE = (\w*MergeTree)(?:\(([^)]*)\))?")


def cluster_ddl(scratch: Client, db: str, cluster: str, retention: Retention | None = None) -> list[str]:
    """The statements that make database `db` on `cluster`, in order. `scratch` is an engine where a
    throwaway database `<db>_ddl_scratch` is made and dropped (chdb will do)."""
    retention = retention or Retention()
    source = f"{db}_ddl_scratch"
    scratch.command(f"DROP DATABASE IF EXISTS {source}")
    migrate(scratch, source)
    apply_retention(scratch, source, retention)
    rows = scratch.query(
        "SELECT name, engine, create_table_query FROM system.tables WHERE database = %(db)s "
        "AND name != 'migration_lock' ORDER BY engine = 'MaterializedView', name",
        parameters={"db": source},
    ).result_rows
    scratch.command(f"DROP DATABASE {source}")
    on = f"ON CLUSTER '{cluster}'"
    statements = [f"CREATE DATABASE IF NOT EXISTS {db} {on}"]
    for name, engine, query in rows:
        query = str(query).replace(f"{source}.", f"{db}.")
        if engine == "MaterializedView":
            statements.append(_local_view(query, db, str(name), on))
        elif name in SHARDED:
            local = f"{name}_local"
            statements.append(_replicated(query, db, str(name), local, on, "{shard}/"))
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {db}.{name} {on} AS {db}.{local} "
                f"ENGINE = Distributed('{cluster}', '{db}', '{local}', {SHARDED[str(name)]})"
            )
        else:
            statements.append(_replicated(query, db, str(name), str(name), on, ""))
    # The worker finds every migration done and every TTL set: it alters no Distributed table.
    statements.append(
        f"INSERT INTO {db}.schema_migrations (version) SELECT number + 1 FROM numbers({len(MIGRATIONS)})"
    )
    for ttl, (_, statement) in ttl_statements(db, retention).items():
        applied = statement.replace("'", "\\'")
        statements.append(f"INSERT INTO {db}.retention_applied (name, statement) SELECT '{ttl}', '{applied}'")
    # ClickHouse's own formatter: readable, and a statement it cannot parse fails here.
    return [
        str(scratch.query("SELECT formatQuery(%(sql)s)", parameters={"sql": sql}).result_rows[0][0])
        for sql in statements
    ]


def _replicated(query: str, db: str, name: str, table: str, on: str, shard: str) -> str:
    """CREATE TABLE of `name` as Replicated table `table`; `shard` is '{shard}/' for a sharded one."""
    head = f"CREATE TABLE {db}.{name} "
    assert query.startswith(head), query[:80]
    body = query[len(head) :]

    def engine(match: re.Match[str]) -> str:
        args = f", {match.group(2)}" if match.group(2) else ""
        path = f"'/clickhouse/tables/{shard}{{database}}/{table}'"
        return f"ENGINE = Replicated{match.group(1)}({path}, '{{replica}}'{args})"

    body = _ENGINE.sub(engine, body, count=1)
    body = re.sub(r"non_replicated_deduplication_window = \d+", DEDUP_SETTING, body)
    return f"CREATE TABLE IF NOT EXISTS {db}.{table} {on} {body}"


def _local_view(query: str, db: str, name: str, on: str) -> str:
    """A materialized view from the shard's local events to its local table."""
    head = f"CREATE MATERIALIZED VIEW {db}.{name} "
    assert query.startswith(head), query[:80]
    body = query[len(head) :]
    for table in SHARDED:
        body = re.sub(rf"\b{db}\.{table}\b", f"{db}.{table}_local", body)
    return f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{name} {on} {body}"
