"""/status's totals on a real engine (chdb): counted in ClickHouse once, then kept in memory, and always
the same as a count in ClickHouse after resends, crash replays, a fault and an erasure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.erase import ErasureRequest, erase_report
from streams.sinks.clickhouse.events import ClickHouseIncidentSink
from streams.sinks.clickhouse.migrations.runner import migrate
from streams.sinks.clickhouse.totals import RunningCount
from tests.helpers.clickhouse import KilledAt, letter, report


class _Counting(KilledAt):
    """The real client, counting its queries; it fails its next insert when told to."""

    def __init__(self, client: Client) -> None:
        super().__init__(client, "never")
        self.queries = 0
        self.fail_next_insert = False

    def query(self, *args: Any, **kwargs: Any) -> Any:
        self.queries += 1
        return self._client.query(*args, **kwargs)

    def raw_insert(self, *args: Any, **kwargs: Any) -> Any:
        answer = self._client.raw_insert(*args, **kwargs)
        if self.fail_next_insert:  # the insert landed, and the answer was lost on the way back
            self.fail_next_insert = False
            raise OSError("connection reset")
        return answer


def sink_on(engine_dir: Path, db: str) -> tuple[ClickHouseIncidentSink, _Counting]:
    client = connect(f"chdb://{engine_dir}")
    client.command(f"DROP DATABASE IF EXISTS {db}")
    migrate(client, db)
    counting = _Counting(client)
    return ClickHouseIncidentSink(counting, db), counting  # type: ignore[arg-type]


def test_totals_are_counted_once_then_advanced_by_the_sinks_own_inserts(engine_dir: Path) -> None:
    sink, client = sink_on(engine_dir, "bw_totals_unit")
    sink.write_events([report(0, "before")])  # a row stored before the first /status
    assert sink.totals() == {"events": 1, "rejects": 0}

    asked = client.queries
    for n in range(3):
        batch = [report(10 * n + k, f"r{n}-{k}") for k in range(4)]
        fresh = [e for e in batch if e.identity not in sink.stored_sources(batch)]
        sink.write_events(fresh)
    sink.write_rejects([letter(n) for n in range(5)])
    sink.write_rejects([letter(n) for n in range(3, 8)] + [letter(7)])  # a crash replay, and a repeat
    sink.write_rejects([])
    queries_by_writes = client.queries - asked
    totals = sink.totals()

    assert client.queries - asked == queries_by_writes, "/status's totals asked ClickHouse"
    assert totals == {"events": 13, "rejects": 8}
    assert totals == sink.totals(exact=True)
    assert client.query("SELECT count() FROM bw_totals_unit.events").result_rows == [(13,)]


def test_a_fault_in_an_insert_makes_the_totals_be_counted_again(engine_dir: Path) -> None:
    sink, client = sink_on(engine_dir, "bw_totals_fault_unit")
    assert sink.totals()["events"] == 0
    client.fail_next_insert = True
    with pytest.raises(OSError):
        sink.write_events([report(0, "landed")])
    # The retry finds the report stored and writes nothing; the count must still hold it.
    assert sink.stored_sources([report(0, "landed")])
    assert sink.totals() == {"events": 1, "rejects": 0} == sink.totals(exact=True)


def test_an_erasure_is_seen_in_the_totals(engine_dir: Path) -> None:
    sink, client = sink_on(engine_dir, "bw_totals_erase_unit")
    sink.write_events([report(0, "kept"), report(1, "erased")])
    assert sink.totals()["events"] == 2
    wanted = ErasureRequest(authority="ES-GC", report_id="erased")
    erase_report(client, "bw_totals_erase_unit", wanted)  # type: ignore[arg-type]
    sink.events_total.forget()  # what the worker's /erase does after an erasure
    assert sink.totals() == {"events": 1, "rejects": 0} == sink.totals(exact=True)


def test_a_running_count_reads_only_when_it_does_not_know() -> None:
    reads: list[int] = []

    def read() -> int:
        reads.append(1)
        return 40

    count = RunningCount(read)
    assert count.add(lambda: 2) == 2  # before the first read: the read will include it
    assert count.value() == 40 and count.value() == 40 and len(reads) == 1
    count.add(lambda: 3)
    assert count.value() == 43 and len(reads) == 1
    count.forget()
    assert count.value() == 40 and len(reads) == 2
    assert count.exact() == 40 and len(reads) == 3
