"""Migration 4: the rejects table, one row per source position."""

from __future__ import annotations

from streams.sinks.clickhouse.schema import REJECTS_TABLE

VERSION = 4
STATEMENT = REJECTS_TABLE.format(table="rejects", cluster="", key="")
