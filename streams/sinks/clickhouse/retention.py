"""Retention: how long ClickHouse keeps personal data, as TTLs on its tables (docs/data-protection.md).

Every TTL counts from when borderwatch received the data, never from when it
happened: a replay of last year's reports must not be deleted as it lands.

A TTL is set when it differs from the one applied last (recorded in
`retention_applied`): changing a TTL rewrites the table's parts once, so a
worker's start must not do it again each time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

MAX_DAYS = 36_500


class Retention(BaseModel):
    """Days each kind of personal data is kept; 0 keeps it. Env: BORDERWATCH_RETENTION__<FIELD>."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    raw_days: int = Field(
        90, ge=0, le=MAX_DAYS,
        description="the report as sent (events.report: its notes, persons' details, vessel names) and "
        "the persons' nationalities per report (events.nationalities), from when it was received",
    )  # fmt: skip
    rejects_days: int = Field(
        90, ge=0, le=MAX_DAYS, description="a refused message as sent (rejects.raw), from its receipt"
    )
    positions_days: int = Field(
        90, ge=0, le=MAX_DAYS,
        description="vessel positions (vessel_positions: a track per vessel), from their receipt",
    )  # fmt: skip
    transitions_days: int = Field(
        365, ge=0, le=MAX_DAYS,
        description="geofence transitions (vessel names, call signs, positions), from their receipt",
    )  # fmt: skip


def ttl_statements(db: str, retention: Retention) -> dict[str, tuple[int, str]]:
    """For each TTL: (days, the ALTER that sets it, or removes it when days is 0)."""

    def column(table: str, name: str, kind: str, clock: str, days: int) -> tuple[int, str]:
        ttl = "REMOVE TTL" if days == 0 else f"{kind} TTL toDateTime({clock}) + INTERVAL {days} DAY"
        return days, f"ALTER TABLE {db}.{table} MODIFY COLUMN {name} {ttl}"

    def rows_ttl(table: str, clock: str, days: int) -> tuple[int, str]:
        ttl = "REMOVE TTL" if days == 0 else f"MODIFY TTL toDateTime({clock}) + INTERVAL {days} DAY"
        return days, f"ALTER TABLE {db}.{table} {ttl}"

    raw = retention.raw_days
    nationalities = "Map(LowCardinality(String), UInt32)"
    return {
        "events.report": column("events", "report", "String", "received_at", raw),
        "events.nationalities": column("events", "nationalities", nationalities, "received_at", raw),
        "rejects.raw": column("rejects", "raw", "String", "received_at", retention.rejects_days),
        "vessel_positions": rows_ttl("vessel_positions", "received_at", retention.positions_days),
        "transitions": rows_ttl(
            "transitions", "ifNull(received_at, inserted_at)", retention.transitions_days
        ),
    }


def apply_retention(client: Client, db: str, retention: Retention) -> list[str]:
    """Set every TTL that differs from the one applied last; returns the names of those set."""
    latest = f"SELECT name, argMax(statement, applied_at) FROM {db}.retention_applied GROUP BY name"
    rows = client.query(latest)
    applied = {str(name): str(statement) for name, statement in rows.result_rows}
    changed = []
    for name, (days, statement) in ttl_statements(db, retention).items():
        if applied.get(name) == statement:
            continue
        if days or name in applied:  # a TTL never set needs no removing
            client.command(statement)
        client.insert(f"{db}.retention_applied", [[name, statement]], column_names=["name", "statement"])
        changed.append(name)
    return changed
