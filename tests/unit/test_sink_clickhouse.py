"""The incident sink on a real engine (chdb): a dead letter replayed in another batch is stored once."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

from schemas.rejection import DeadLetter, RejectReason
from streams.sinks.clickhouse import ClickHouseIncidentSink, connect, migrate

DB = "bw_rejects_unit"
AT = datetime(2026, 11, 22, 3, 14, tzinfo=UTC)


def letter(offset: int, partition: int = 0, topic: str = "reports.interceptions") -> DeadLetter:
    return DeadLetter(
        reason=RejectReason.INVALID_JSON, detail="not JSON", source_topic=topic, source_partition=partition,
        source_offset=offset, received_at=AT, raw_b64=base64.b64encode(b"\xff").decode(),
    )  # fmt: skip


def test_replayed_dead_letters_are_stored_once_and_plain_count_is_exact(engine_dir: Path) -> None:
    client = connect(f"chdb://{engine_dir}")
    migrate(client, DB)
    sink = ClickHouseIncidentSink(client, DB)
    sink.write_rejects([letter(n) for n in range(5)])
    # After a kill -9 the input is read again from its last commit, in batches cut elsewhere,
    # and the same message can also be refused twice within one batch.
    sink.write_rejects([letter(n) for n in range(3, 8)] + [letter(7)])
    sink.write_rejects([letter(0, partition=1), letter(0, topic="reports.vessels"), letter(4)])
    sink.write_rejects([])
    assert client.query(f"SELECT count() FROM {DB}.rejects").result_rows == [(10,)]
    assert sink.totals()["rejects"] == 10
