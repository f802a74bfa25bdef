"""The cluster DDL: read off the real schema, every table Replicated (the large ones sharded behind a
Distributed table), the views on each shard's local tables, parsed by ClickHouse, and a worker finds
nothing left to migrate or alter."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from streams.sinks.clickhouse.cluster_ddl import SHARDED, cluster_ddl
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.sinks.clickhouse.retention import Retention, apply_retention
from tests.helpers.paths import ROOT

HEAD = r"CREATE (?:TABLE|MATERIALIZED VIEW) IF NOT EXISTS bw_cluster\.(\w+) ON CLUSTER bw"
COMMITTED = ROOT / "docker" / "clickhouse" / "cluster.sql"


@pytest.fixture
def client(engine_dir: Path) -> Client:
    return connect(f"chdb://{engine_dir}")


def real_tables(client: Client, db: str) -> dict[str, tuple[str, list[str]]]:
    client.command(f"DROP DATABASE IF EXISTS {db}")
    migrate(client, db)
    engines = dict(client.query(
        "SELECT name, engine FROM system.tables WHERE database = %(db)s", parameters={"db": db}
    ).result_rows)  # fmt: skip
    columns: dict[str, list[str]] = {}
    for table, column in client.query(
        "SELECT table, name FROM system.columns WHERE database = %(db)s ORDER BY table, position",
        parameters={"db": db},
    ).result_rows:
        columns.setdefault(str(table), []).append(str(column))
    return {str(name): (str(engine), columns.get(str(name), [])) for name, engine in engines.items()}


def test_every_table_is_replicated_and_the_large_ones_sharded(client: Client) -> None:
    statements = cluster_ddl(client, "bw_cluster", "bw")
    tables = real_tables(client, "bw_cluster_real")
    by_name = {}
    for statement in statements:
        if match := re.match(HEAD, statement):
            by_name[match.group(1)] = statement
    for name, (engine, columns) in tables.items():
        if engine == "MaterializedView":
            view = by_name[name]
            # A view on a sharded table reads and writes each shard's local tables; a view on a table
            # replicated to every node writes a replicated table beside it.
            source = re.search(r"FROM bw_cluster\.(\w+)", view)
            assert source is not None, name
            if source.group(1).removesuffix("_local") in SHARDED:
                assert source.group(1).endswith("_local") and re.search(r"TO bw_cluster\.\w+_local", view)
            else:
                target = re.search(r"TO bw_cluster\.(\w+)", view)
                assert target is not None and target.group(1) not in SHARDED, name
            continue
        local = by_name[f"{name}_local" if name in SHARDED else name]
        assert f"ENGINE = Replicated{engine}(" in local, name
        path = f"'/clickhouse/tables/{{shard}}/{{database}}/{name}_local'" if name in SHARDED else (
            f"'/clickhouse/tables/{{database}}/{name}'"
        )  # fmt: skip
        assert path in local and "'{replica}'" in local, name
        assert "non_replicated_deduplication_window" not in local
        for column in columns:
            assert f"`{column}`" in local, (name, column)
        if name in SHARDED:
            assert (
                f"ENGINE = Distributed('bw', 'bw_cluster', '{name}_local', {SHARDED[name]})" in by_name[name]
            )
    assert set(SHARDED) <= set(tables)
    assert "migration_lock" not in by_name


def test_a_worker_finds_nothing_to_migrate_or_alter(client: Client) -> None:
    statements = cluster_ddl(client, "bw_cluster_done", "bw")
    client.command("DROP DATABASE IF EXISTS bw_cluster_done")
    migrate(client, "bw_cluster_done")  # plain tables of the same names, to run the DDL's inserts on
    for table in ("schema_migrations", "retention_applied"):
        client.command(f"TRUNCATE TABLE bw_cluster_done.{table}")
    for statement in statements:
        if statement.startswith("INSERT INTO"):
            client.command(statement)
    assert migrate(client, "bw_cluster_done") == 0
    assert apply_retention(client, "bw_cluster_done", Retention()) == []


def test_the_committed_cluster_ddl_is_this_releases() -> None:
    made = subprocess.run(
        [sys.executable, "-m", "streams.cli", "cluster-ddl", "borderwatch"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert made == COMMITTED.read_text(), (
        "docker/clickhouse/cluster.sql is stale: python -m streams.cli cluster-ddl borderwatch > "
        "docker/clickhouse/cluster.sql"
    )
