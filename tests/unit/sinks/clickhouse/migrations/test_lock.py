"""The migration lock on a real engine (chdb): one migrator at a time, and a dead one's lock taken over."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from schemas.errors import SinkUnavailableError
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.migrations.lock import migration_lock


def test_one_migrator_at_a_time_and_a_dead_ones_lock_is_taken_over(
    engine_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = connect(f"chdb://{engine_dir}")
    db = "bw_lock"
    client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    client.command(f"DROP TABLE IF EXISTS {db}.migration_lock")
    monkeypatch.setattr("streams.sinks.clickhouse.migrations.lock.LOCK_CONFIRM_S", 0.6)
    with migration_lock(client, db, 5.0) as beat:
        started = time.monotonic()
        with (
            pytest.raises(SinkUnavailableError, match=f"DROP TABLE {db}.migration_lock"),
            migration_lock(client, db, 1.0),
        ):
            pass
        assert time.monotonic() - started >= 1.0  # it waited for the holder, who beat just now
        monkeypatch.setattr("streams.sinks.clickhouse.migrations.lock.LOCK_STALE_S", -1)
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

