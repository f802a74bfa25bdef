"""Analyst SQL: the limits every analyst query runs under (settings group `analyst`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AnalystLimits(BaseModel):
    """Caps on one analyst query; env BORDERWATCH_ANALYST__<NAME>."""

    model_config = ConfigDict(frozen=True)

    max_execution_s: float = Field(10.0, gt=0, description="a query running longer is stopped")
    max_memory_bytes: int = Field(1 << 30, ge=1 << 20, description="memory one query may use")
    max_rows_to_read: int = Field(500_000_000, ge=1, description="rows one query may read from tables")
    max_result_rows: int = Field(100_000, ge=1, description="rows one result may hold")
    max_result_bytes: int = Field(64 << 20, ge=1024, description="bytes one result may hold")
    max_threads: int = Field(1, ge=1, description="threads one query may use; ingest keeps the rest")
    max_sql_bytes: int = Field(65_536, ge=64, description="longest SQL text accepted")
    max_waiting: int = Field(
        4, ge=1, description="queries queued behind a running one or sending their answer; more get a 503"
    )
    max_answer_bytes: int = Field(
        16 << 20, ge=1024, description="bytes of one JSON answer; a larger one is refused (422)"
    )
    answer_send_s: float = Field(
        60.0, gt=0, description="seconds a client has to read its answer; a slower one is cut off"
    )
    abandon_after_s: float = Field(
        2.0,
        gt=0,
        description="a query still running this long past max_execution_s (ClickHouse checks its limit "
        "between blocks only) is abandoned: its slot is freed and the client gets a 504",
    )
    max_abandoned: int = Field(
        1, ge=1, description="abandoned queries that may still run on; while that many do, new ones get a 503"
    )

    def clickhouse_settings(self) -> dict[str, int | float | str]:
        """The ClickHouse settings that enforce these limits."""
        return {
            "max_execution_time": self.max_execution_s,
            "timeout_overflow_mode": "throw",
            "max_memory_usage": self.max_memory_bytes,
            "max_rows_to_read": self.max_rows_to_read,
            "read_overflow_mode": "throw",
            "max_result_rows": self.max_result_rows,
            "max_result_bytes": self.max_result_bytes,
            "result_overflow_mode": "throw",
            "max_threads": self.max_threads,
            "max_query_size": self.max_sql_bytes + 64,
        }
