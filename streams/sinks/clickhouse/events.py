"""The incident sink: accepted events and rejects written to ClickHouse, each report counted once."""

from __future__ import annotations

from collections.abc import Sequence

from clickhouse_connect.driver.client import Client

from schemas.codec import encode_columns
from schemas.rejection import DeadLetter
from streams.sinks.clickhouse.columns import (
    EVENT_COLUMNS,
    REJECT_COLUMNS,
    batch_token,
    event_columns,
    once_settings,
    reject_columns,
)
from streams.sinks.clickhouse.key_lookup import key_chunks
from streams.sinks.clickhouse.totals import RunningCount
from streams.stages.enrich import Enriched, Source

ELSEWHERE = Source("", -1, -1)  # a stored source in another broker's log: equal to none here


class ClickHouseIncidentSink:
    """Writes accepted events and rejects; counts each report once however often it arrives."""

    def __init__(self, client: Client, db: str) -> None:
        self.client = client
        self.db = db
        self.cluster = ""  # the broker whose log the sink's sources are read from: see `open_log`
        self.earlier: list[str] = []  # the clusters before it, when it is new to this data
        self._log_clusters: tuple[str, ...] = ("",)
        # /status's totals: counted once, then advanced by this sink's own inserts (see totals.py)
        self.events_total = RunningCount(self._count_events)
        self.rejects_total = RunningCount(self._count_rejects)

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
        stored: dict[tuple[str, str], Source] = {}
        for keys in key_chunks([e.identity for e in events]):
            stored.update(self._stored_sources(keys))
        return stored

    def _stored_sources(self, keys: str) -> dict[tuple[str, str], Source]:
        rows = self.client.query(
            "WITH keys AS (SELECT arrayJoin(JSONExtract(%(keys)s, 'Array(Tuple(String, String))'))) "
            "SELECT * FROM ("
            "SELECT authority, report_id, source_topic, source_partition, source_offset, source_cluster, 0 "
            f"FROM {self.db}.report_keys WHERE (authority, report_id) IN keys UNION ALL "
            f"SELECT authority, report_id, '', 0, 0, '', 1 FROM {self.db}.erased "
            "WHERE (authority, report_id) IN keys)",
            parameters={"keys": keys},
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
        """Insert a batch of new events (see `stored_sources`: none stored yet, each once) as one block."""
        if events:
            self.events_total.add(lambda: self._insert_events(events))

    def _insert_events(self, events: Sequence[Enriched]) -> int:
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
        return len(events)

    def write_rejects(self, dead_letters: Sequence[DeadLetter]) -> None:
        """Insert the rejects not stored yet as one block: each source position is stored once.

        A dead letter comes round again when its batch is replayed after a crash
        (the input offset was not committed), in a batch cut differently, so the
        insert token alone would not see it; the sink checks what is stored.
        """
        if dead_letters:
            self.rejects_total.add(lambda: self._insert_rejects(dead_letters))

    def _insert_rejects(self, dead_letters: Sequence[DeadLetter]) -> int:
        fresh: dict[tuple[str, int, int], DeadLetter] = {}
        for d in dead_letters:
            fresh.setdefault((d.source_topic, d.source_partition, d.source_offset), d)
        for key in self._stored_rejects(list(fresh)):
            fresh.pop(key, None)
        if not fresh:
            return 0
        token = batch_token("rejects", [(self.cluster, *key) for key in fresh])
        self.client.insert(
            f"{self.db}.rejects", reject_columns(list(fresh.values()), self.cluster),
            column_names=list(REJECT_COLUMNS),
            column_oriented=True, settings=once_settings(token),
        )  # fmt: skip
        return len(fresh)

    def _stored_rejects(self, keys: list[tuple[str, int, int]]) -> set[tuple[str, int, int]]:
        stored: set[tuple[str, int, int]] = set()
        for chunk in key_chunks(keys):
            rows = self.client.query(
                "SELECT source_topic, source_partition, source_offset "
                f"FROM {self.db}.rejects WHERE source_cluster IN %(clusters)s "
                "AND (source_topic, source_partition, source_offset) IN ("
                "SELECT arrayJoin(JSONExtract(%(keys)s, 'Array(Tuple(String, UInt32, UInt64))')))",
                parameters={"keys": chunk, "clusters": self._log_clusters},
            ).result_rows
            stored.update((str(t), int(p), int(o)) for t, p, o in rows)
        return stored

    def totals(self, exact: bool = False) -> dict[str, int]:
        """Distinct accepted reports and rejected messages stored: counted in ClickHouse with `exact`,
        else kept in memory since the first count (exact while this process is the only writer)."""
        if exact:
            return {"events": self.events_total.exact(), "rejects": self.rejects_total.exact()}
        return {"events": self.events_total.value(), "rejects": self.rejects_total.value()}

    def _count_events(self) -> int:
        query = f"SELECT uniqExact(authority, report_id) FROM {self.db}.events"
        return int(self.client.query(query).result_rows[0][0])

    def _count_rejects(self) -> int:
        query = (
            "SELECT uniqExact(source_cluster, source_topic, source_partition, source_offset) "
            f"FROM {self.db}.rejects"
        )
        return int(self.client.query(query).result_rows[0][0])
