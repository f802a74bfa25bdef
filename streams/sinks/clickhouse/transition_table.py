"""Sink stage: geofence transitions in ClickHouse, each stored once however often it arrives.

A transition reaches the `transitions` topic more than once when the detect
agent replays a batch (at-least-once) and the sink re-reads a batch it had
written before a crash. Copies of one transition share a partition (keyed by
vessel), so the one consumer of that partition can ask ClickHouse which of a
batch's transitions it holds and insert only the others, with a token derived
from their identities: `count()` stays exact without FINAL. The table is also a
ReplacingMergeTree on the identity, so FINAL is exact whatever happens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.transitions import Transition
from streams.sinks.clickhouse.columns import batch_token, once_settings
from streams.sinks.clickhouse.key_lookup import key_chunks

TRANSITION_COLUMNS = (
    "vessel_key", "mmsi", "imo", "name", "callsign", "vessel_type", "zone_id", "route", "direction",
    "observed_at", "event_id", "lat_deg", "lon_deg", "received_at",
)  # fmt: skip
Identity = tuple[str, str, str, str]


class ClickHouseTransitionSink:
    """Writes the `transitions` table; a replayed or resent transition is not stored again."""

    def __init__(self, client: Client, db: str) -> None:
        self.client = client
        self.db = db
        self.written = 0
        self.duplicates = 0

    def stored(self, identities: Iterable[Identity]) -> set[Identity]:
        """Which of these (zone_id, vessel_key, event_id, direction) the table already holds."""
        keys = list(identities)
        if not keys:
            return set()
        # The keys match the table's sorting key.
        rows = [
            row
            for chunk in key_chunks(keys)
            for row in self.client.query(
                f"SELECT zone_id, vessel_key, event_id, direction FROM {self.db}.transitions "
                "WHERE (zone_id, vessel_key, event_id, direction) IN ("
                "SELECT arrayJoin(JSONExtract(%(keys)s, 'Array(Tuple(String, String, String, String))')))",
                parameters={"keys": chunk},
            ).result_rows
        ]
        return {(str(z), str(v), str(e), str(d)) for z, v, e, d in rows}

    def write_transitions(self, transitions: Sequence[Transition]) -> None:
        """Insert the transitions not stored yet as one block."""
        unique = {t.identity: t for t in transitions}
        held = self.stored(unique)
        new = [t for key, t in unique.items() if key not in held]
        self.duplicates += len(transitions) - len(new)
        if not new:
            return
        columns: list[list[Any]] = [
            [t.vessel_key for t in new],
            [t.mmsi for t in new],
            [t.imo for t in new],
            [t.name for t in new],
            [t.callsign for t in new],
            [t.vessel_type for t in new],
            [t.zone_id for t in new],
            [t.route for t in new],
            [t.direction.value for t in new],
            [t.observed_at for t in new],
            [t.event_id for t in new],
            [t.lat for t in new],
            [t.lon for t in new],
            [t.received_at for t in new],
        ]
        self.client.insert(
            f"{self.db}.transitions", columns, column_names=list(TRANSITION_COLUMNS), column_oriented=True,
            settings=once_settings(batch_token("transitions", [t.identity for t in new])),
        )  # fmt: skip
        self.written += len(new)
