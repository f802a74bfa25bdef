"""Erasure of one report: it and what was derived from it leave ClickHouse, and its counts follow.

For correction and erasure requests under data-protection law. The report's
identity is kept in `erased` (no personal data: the authority and its report
id), so a copy that comes again (a resend, a replay of the topic within its
retention) is taken for a resend and is not stored or published again (see
`ClickHouseIncidentSink.stored_sources`).

Order of the steps, so that a crash halfway loses nothing and double-counts
nothing: the tombstone first, then the report's key and position, then its
events row, then the counts' compensation (a negative row, which
SummingMergeTree adds in). A crash between the last two leaves
`crossing_counts` ahead of `events`, which the worker's start-up check
(`repair_derived`) corrects with a delta row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from clickhouse_connect.driver.client import Client
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from schemas.keys import report_identity
from schemas.reports import Text


class ErasureRequest(BaseModel):
    """Which report to erase: the same identity a report carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    authority: Text
    report_id: Text
    tombstone: StrictBool = Field(
        False, description="erase an identity that was never stored: a tombstone against its arrival"
    )


@dataclass(frozen=True)
class Erasure:
    """What an erasure removed."""

    events: int
    vessel_positions: int
    rejects: int
    transitions: int
    alerts: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def erase_report(client: Client, db: str, request: ErasureRequest) -> Erasure:
    """Remove the report, the dead letters naming it, its transitions and its id in alerts' evidence."""
    identity = {
        "a": request.authority,
        "r": request.report_id,
        "id": report_identity(request.authority, request.report_id),
    }
    where = "authority = %(a)s AND report_id = %(r)s"
    client.insert(
        f"{db}.erased", [[request.authority, request.report_id]], column_names=["authority", "report_id"]
    )
    counted = client.query(
        "SELECT toStartOfMinute(observed_at), crossing_id, route, incident_type, count(), sum(persons) "
        f"FROM {db}.events WHERE {where} AND kind = 'interception' "
        "GROUP BY 1, 2, 3, 4", parameters=identity,
    ).result_rows  # fmt: skip
    events = _count(client, f"SELECT count() FROM {db}.events WHERE {where}", identity)
    positions = _count(client, f"SELECT count() FROM {db}.vessel_positions WHERE {where}", identity)
    # The derived rows first: a crash after them leaves the event, which the start-up repair derives
    # again and a repeated erasure removes; the tombstone above keeps a resend from coming back.
    for table in ("vessel_positions", "report_keys", "events"):
        client.command(f"DELETE FROM {db}.{table} WHERE {where}", parameters=identity)
    if counted:
        negative = [[*key, -int(n), -int(persons)] for *key, n, persons in counted]
        client.insert(
            f"{db}.crossing_counts", negative,
            column_names=["minute", "crossing_id", "route", "incident_type", "reports", "persons"],
        )  # fmt: skip
    named = "JSONExtractString(raw, 'authority') = %(a)s AND JSONExtractString(raw, 'report_id') = %(r)s"
    rejects = _count(client, f"SELECT count() FROM {db}.rejects WHERE {named}", identity)
    if rejects:
        client.command(f"DELETE FROM {db}.rejects WHERE {named}", parameters=identity)
    transitions = _count(client, f"SELECT count() FROM {db}.transitions WHERE event_id = %(id)s", identity)
    if transitions:
        client.command(f"DELETE FROM {db}.transitions WHERE event_id = %(id)s", parameters=identity)
    alerts = _count(client, f"SELECT count() FROM {db}.alerts WHERE has(event_ids, %(id)s)", identity)
    if alerts:
        client.command(
            f"ALTER TABLE {db}.alerts UPDATE event_ids = arrayFilter(e -> e != %(id)s, event_ids) "
            "WHERE has(event_ids, %(id)s) SETTINGS mutations_sync = 2",
            parameters=identity,
        )
    return Erasure(events, positions, rejects, transitions, alerts)


def was_stored(client: Client, db: str, request: ErasureRequest) -> bool:
    """Did the identity ever reach ClickHouse: stored, dead-lettered, or erased before?"""
    identity = {"a": request.authority, "r": request.report_id}
    where = "authority = %(a)s AND report_id = %(r)s"
    named = "JSONExtractString(raw, 'authority') = %(a)s AND JSONExtractString(raw, 'report_id') = %(r)s"
    checks = (
        f"SELECT count() FROM {db}.report_keys WHERE {where}",
        f"SELECT count() FROM {db}.events WHERE {where}",
        f"SELECT count() FROM {db}.erased WHERE {where}",  # a repeated erasure finishes one a crash cut
        f"SELECT count() FROM {db}.rejects WHERE {named}",
    )
    return any(_count(client, sql, identity) for sql in checks)


def erase_known_report(client: Client, db: str, request: ErasureRequest) -> Erasure | None:
    """`erase_report`, or None (nothing written) for an identity never stored unless a tombstone is asked.

    Erasing a mistyped identity would otherwise look done while the real report stays.
    """
    if not request.tombstone and not was_stored(client, db, request):
        return None
    return erase_report(client, db, request)


def erased_counts(client: Client, db: str, request: ErasureRequest) -> dict[str, int] | None:
    """`erase_known_report` as the counts the API and the CLI show."""
    erasure = erase_known_report(client, db, request)
    return None if erasure is None else erasure.as_dict()


def _count(client: Client, sql: str, parameters: dict[str, str]) -> int:
    return int(client.query(sql, parameters=parameters).result_rows[0][0])
