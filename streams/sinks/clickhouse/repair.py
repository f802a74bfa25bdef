"""Start-up repairs: the tables derived from events (keys, positions, counts) made to agree with it."""

from __future__ import annotations

import logging

from clickhouse_connect.driver.client import Client

from streams.sinks.clickhouse.connection import shared_server
from streams.sinks.clickhouse.schema import ANY_PARTITIONS, CROSSING_COUNTS_ROWS, DERIVED_VIEWS

log = logging.getLogger(__name__)
IN_FLIGHT_S = 60  # events younger than this may still be on their way through the views


class DerivedTableRepair:
    """Repairs what a killed process left between `events` and the tables its views derive from it."""

    def __init__(self, client: Client, db: str) -> None:
        self.client = client
        self.db = db
        self.shared = shared_server(client)  # other workers' views may be writing meanwhile

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
            rows = DERIVED_VIEWS[f"{table}_mv"].rows.format(db=self.db, final=" FINAL")
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
