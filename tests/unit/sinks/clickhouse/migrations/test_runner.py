"""The migration runner on a real engine (chdb): migrations by their declared version, applied in version
order once each, and a database that cannot take them refused with what to do."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from schemas.errors import SinkUnavailableError
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.migrations import runner
from streams.sinks.clickhouse.migrations.runner import MIGRATIONS, migrate

MIGRATIONS_DIR = Path(runner.__file__).parent
# The versions the releases before recorded in schema_migrations: a version never changes its meaning.
RELEASED = {
    1: "m0001_events", 2: "m0002_crossing_counts", 3: "m0003_crossing_counts_view", 4: "m0004_rejects",
    5: "m0005_alerts", 6: "m0006_transitions", 7: "m0007_events_source_cluster",
    8: "m0008_rejects_by_cluster", 9: "m0009_broker_clusters", 10: "m0010_retention_applied",
    11: "m0011_erased", 12: "m0012_signed_counts", 13: "m0013_events_by_month", 14: "m0014_alert_operations",
}  # fmt: skip


def test_each_migration_file_is_registered_under_the_version_in_its_name() -> None:
    files = sorted(p.stem for p in MIGRATIONS_DIR.glob("m*.py"))
    by_version = {}
    for name in files:
        match = re.fullmatch(r"m(\d{4})_[a-z0-9_]+", name)
        assert match, f"{name}.py: a migration file is m<4-digit version>_<what>.py"
        module = importlib.import_module(f"streams.sinks.clickhouse.migrations.{name}")
        assert int(match.group(1)) == module.VERSION, name
        step = module.STATEMENT if hasattr(module, "STATEMENT") else module.apply
        assert MIGRATIONS[module.VERSION] is step, f"{name} is not registered in runner.MIGRATIONS"
        by_version[module.VERSION] = name
    assert len(by_version) == len(files) == len(MIGRATIONS)
    # One after another from 1: cluster_ddl records them as numbers(len(MIGRATIONS)) + 1.
    assert sorted(by_version) == list(range(1, len(MIGRATIONS) + 1))
    assert {v: by_version[v] for v in RELEASED} == RELEASED


def test_a_new_database_records_every_version_once(engine_dir: Path) -> None:
    client = connect(f"chdb://{engine_dir}")
    client.command("DROP DATABASE IF EXISTS bw_versions")
    assert migrate(client, "bw_versions") == len(MIGRATIONS)
    assert migrate(client, "bw_versions") == 0
    recorded = client.query("SELECT version FROM bw_versions.schema_migrations ORDER BY version").result_rows
    assert [v for (v,) in recorded] == sorted(MIGRATIONS)


def test_migrations_are_applied_in_version_order_not_as_listed(
    engine_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = connect(f"chdb://{engine_dir}")
    client.command("DROP DATABASE IF EXISTS bw_order")
    listed = {  # the second needs the first's table
        2: "CREATE TABLE {db}.copy ENGINE = Memory AS SELECT * FROM {db}.first",
        1: "CREATE TABLE {db}.first (n UInt8) ENGINE = Memory",
    }
    monkeypatch.setattr("streams.sinks.clickhouse.migrations.runner.MIGRATIONS", listed)
    assert migrate(client, "bw_order") == 2
    assert client.query("EXISTS TABLE bw_order.copy").result_rows == [(1,)]


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
