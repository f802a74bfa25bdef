"""Migration 13: `events` rebuilt by month, with `report_keys` and `vessel_positions` derived from it."""

from __future__ import annotations

import logging
import time

from clickhouse_connect.driver.client import Client

from schemas.errors import SinkUnavailableError
from streams.sinks.clickhouse.columns import EVENT_COLUMNS
from streams.sinks.clickhouse.migrations.lock import Beat
from streams.sinks.clickhouse.repair import IN_FLIGHT_S, DerivedTableRepair
from streams.sinks.clickhouse.schema import (
    ANY_PARTITIONS,
    DEDUP_WINDOW,
    DERIVED_VIEWS,
    EVENTS_BY_MONTH,
    EVENTS_PARTITION_KEY,
    REPORT_KEYS,
    VESSEL_POSITIONS,
)

log = logging.getLogger(__name__)
VERSION = 13
OLD = "events_by_month"  # the copy before the exchange; the old table after it


def apply(client: Client, db: str, beat: Beat) -> None:
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
    rebuild = _Rebuild(client, db, beat)
    rebuild.command(REPORT_KEYS)
    rebuild.command(VESSEL_POSITIONS)
    if rebuild.partition_key("events") != EVENTS_PARTITION_KEY:
        rebuild.copy_and_exchange()
    swapped = rebuild.partition_key(OLD) not in (None, EVENTS_PARTITION_KEY)
    if swapped:
        rebuild.drop_erased_and_catch_up()
    rebuild.make_views()
    if not swapped:
        rebuild.command("DROP TABLE IF EXISTS {db}.{table}")  # a copy an earlier release's crash left
        return
    rebuild.finish()


class _Rebuild:
    """The steps of the rebuild, each a statement or two on `db`, with a beat after each statement."""

    def __init__(self, client: Client, db: str, beat: Beat) -> None:
        self.client, self.db, self.beat = client, db, beat
        self.columns = ", ".join(("inserted_at", *EVENT_COLUMNS))
        self.missing = (  # an erased report is not missing: an old worker may erase meanwhile
            f"FROM {{db}}.{OLD} FINAL WHERE (authority, report_id) NOT IN "
            "(SELECT authority, report_id FROM {db}.events) "
            "AND (authority, report_id) NOT IN (SELECT authority, report_id FROM {db}.erased)"
        )

    def command(self, sql: str, final: str = "") -> None:
        """Run `sql`, formatted with the database, the dedup window and the old table, then beat."""
        self.client.command(sql.format(db=self.db, window=DEDUP_WINDOW, final=final, table=OLD))
        self.beat()

    def partition_key(self, name: str) -> str | None:
        """Table `name`'s partition key ('' for none), None when there is no such table."""
        rows = self.client.query(
            "SELECT partition_key FROM system.tables WHERE database = %(db)s AND name = %(name)s",
            parameters={"db": self.db, "name": name},
        ).result_rows
        return str(rows[0][0]) if rows else None

    def copy_and_exchange(self) -> None:
        """Copy `events` into a new table by month beside it, drop the views, and exchange the two."""
        columns = self.columns
        self.command(EVENTS_BY_MONTH)
        self.command("TRUNCATE TABLE {db}.{table}")  # a copy a crash cut short
        self.command(
            f"INSERT INTO {{db}}.{OLD} ({columns}) SELECT {columns} FROM {{db}}.events FINAL "
            f"SETTINGS {ANY_PARTITIONS}"
        )
        for view in DERIVED_VIEWS:  # a view stays with its table: made again on the new one below
            self.command(f"DROP VIEW IF EXISTS {{db}}.{view}")
        # The rebuilt table has no TTL yet: let the worker's start set it again (retention.py).
        self.command("DELETE FROM {db}.retention_applied WHERE name LIKE 'events.%'")
        self.command("EXCHANGE TABLES {db}.events AND {db}.{table}")

    def drop_erased_and_catch_up(self) -> None:
        """Delete from `events` what was erased after the copy, and copy across what was written
        to the old table since; before the views, so what the old views counted is not counted again."""
        erased = "(authority, report_id) IN (SELECT authority, report_id FROM {db}.erased)"
        count = f"SELECT count() FROM {{db}}.events WHERE {erased}".format(db=self.db)
        if self.client.query(count).result_rows[0][0]:
            self.command(f"DELETE FROM {{db}}.events WHERE {erased}")  # erased after the copy was made
        self.catch_up()

    def catch_up(self) -> int:
        """Copy across the reports written to the old table since the copy; how many were missing."""
        count = int(self.client.query(f"SELECT count() {self.missing}".format(db=self.db)).result_rows[0][0])
        if count:
            self.command(
                f"INSERT INTO {{db}}.events ({self.columns}) SELECT {self.columns} {self.missing} "
                f"SETTINGS {ANY_PARTITIONS}"
            )
        return count

    def make_views(self) -> None:
        """Make each derived view that is not there, on its table blanked (but the counts)."""
        for view, (derived, rows) in DERIVED_VIEWS.items():
            if self.partition_key(view) is not None:
                continue
            if derived != "crossing_counts":  # the counts were kept: they carry erasures' negative rows
                self.command(f"TRUNCATE TABLE {{db}}.{derived}")
            self.command(f"CREATE MATERIALIZED VIEW {{db}}.{view} TO {{db}}.{derived} AS {rows}")

    def finish(self) -> None:
        """After the exchange: wait for an old worker's inserts in flight, repair the derived tables,
        and drop the old table once nothing arrives there any more."""
        db = self.db
        repair = DerivedTableRepair(self.client, db)
        held = int(self.client.query(f"SELECT count() FROM {db}.{OLD}").result_rows[0][0])
        if repair.shared and held:  # an old worker's inserts begun before the exchange may still land there
            for _ in range(IN_FLIGHT_S // 10):
                time.sleep(10)
                self.beat()
            self.catch_up()
        repair.repair_derived()  # the keys, positions and counts of what went by without the views
        self.beat()
        if repair.shared and (left := repair.unsettled()):
            log.warning("%s count groups have events from the last minute: the next start checks them", left)
        if self.catch_up():
            raise SinkUnavailableError(
                f"reports still arrive in the old {db}.{OLD}: nothing dropped, the next start copies them"
            )
        self.command("DROP TABLE {db}.{table}")
