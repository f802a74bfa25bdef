"""The transitions sink on a real engine (chdb): replayed and resent transitions are stored once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from schemas.transitions import Direction, Transition
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.sinks.clickhouse.transition_table import ClickHouseTransitionSink

DB = "bw_transitions_unit"
AT = datetime(2026, 11, 22, 3, 14, 0, 123000, tzinfo=UTC)


def transition(n: int, direction: Direction = Direction.ENTER) -> Transition:
    return Transition(
        vessel_key=f"mmsi:24700000{n}", mmsi=f"24700000{n}", zone_id="IT-LAMPEDUSA",
        route="Central Mediterranean", direction=direction, observed_at=AT + timedelta(minutes=n),
        event_id=f"EMSA:AIS-{n}", lat=35.5, lon=12.5, received_at=AT + timedelta(minutes=n, seconds=3),
    )  # fmt: skip


def test_replayed_batches_and_copies_count_once_without_final(engine_dir: Path) -> None:
    client = connect(f"chdb://{engine_dir}")
    migrate(client, DB)
    sink = ClickHouseTransitionSink(client, DB)
    first = [transition(1), transition(1, Direction.EXIT), transition(2)]
    sink.write_transitions(first)
    sink.write_transitions(first)  # the same batch again: a crash before the commit
    sink.write_transitions(
        [transition(2), transition(3), transition(3)]
    )  # a copy in another batch, and twice in one
    sink.write_transitions([])
    assert client.query(f"SELECT count() FROM {DB}.transitions").result_rows == [(4,)]
    assert (sink.written, sink.duplicates) == (4, 5)
    rows = client.query(
        f"SELECT direction, event_id, observed_at, received_at, inserted_at >= received_at "
        f"FROM {DB}.transitions WHERE event_id = 'EMSA:AIS-1' ORDER BY direction"
    ).result_rows
    assert [(d, e, o.replace(tzinfo=UTC), r.replace(tzinfo=UTC), later) for d, e, o, r, later in rows] == [
        ("enter", "EMSA:AIS-1", AT + timedelta(minutes=1), AT + timedelta(minutes=1, seconds=3), True),
        ("exit", "EMSA:AIS-1", AT + timedelta(minutes=1), AT + timedelta(minutes=1, seconds=3), True),
    ]
    assert sink.stored([t.identity for t in first]) == {t.identity for t in first}
    client.command(f"DROP DATABASE {DB}")
