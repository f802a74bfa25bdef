"""Benchmark: the production layout of `events` against the one before it (migration 13), on chdb.

Two databases in one chdb are filled with the same N synthetic reports (20
crossings, 6 authorities, two years of observed_at; one in ten a vessel fix
of 1,000 vessels), written by INSERT ... SELECT so that the views fill what they
fill in each layout:
- `before`: the migrations up to 12 (events ordered by authority, report_id,
  one partition);
- `after`: every migration (events by month, ordered by crossing and time;
  report_keys; vessel_positions).
Then each of the queries below runs 5 times on each, and the median time and
the rows ClickHouse read are printed:
- one crossing over 7 days (an analyst's usual filter);
- every crossing over one day;
- the sink's identity check for a batch of 2,000 keys (events in `before`,
  report_keys in `after`);
- one vessel's track over a month (events in `before`, vessel_positions in
  `after`).
It also times the insert of a 2,000-report batch into each, of one day (live
reports) and over two years (a replay): the production layout feeds three
views, not one, and writes a part per month a batch touches.
Run: python scripts/bench_schema.py [--reports 2000000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clickhouse_connect.driver.client import Client

from streams.sinks.clickhouse.columns import EVENT_COLUMNS
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.migrations import runner
from streams.sinks.clickhouse.migrations.m0013_events_by_month import VERSION as BY_MONTH
from streams.sinks.clickhouse.migrations.runner import MIGRATIONS, migrate

START = "2025-01-01 00:00:00"
AUTHORITIES = ("ES-GC", "IT-GDF", "MT-AFM", "GR-HCG", "ES-SM", "MA-MRN")
SPAN_S = 2 * 365 * 86400


def rows(n: int, offset: int = 0, start: str = START, span_s: int = SPAN_S) -> str:
    """N synthetic events over `span_s` seconds from `start`, as a SELECT (the same for both layouts)."""
    return f"""SELECT
        {list(AUTHORITIES)}[1 + ((number + {offset}) % 6)] AS authority,
        toString(number + {offset}) AS report_id,
        if(number % 10 = 0, 'vessel', 'interception') AS kind,
        toDateTime64('{start}', 3, 'UTC') + toIntervalSecond(cityHash64(number + {offset}) % {span_s})
            AS observed_at,
        NULL AS reported_at, observed_at + toIntervalHour(2) AS received_at, NULL AS published_at,
        35.0 + (number % 100) / 100 AS lat_deg, 12.0 + (number % 77) / 100 AS lon_deg,
        concat('CROSSING-', toString(cityHash64(number + {offset}, 1) % 20)) AS crossing_id,
        'IT' AS country, 'Central Mediterranean' AS route,
        if(kind = 'interception', 'irregular_crossing_attempt', '') AS incident_type,
        toUInt32(if(kind = 'interception', 1 + number % 40, 0)) AS persons,
        map('MA', persons) AS nationalities,
        if(kind = 'vessel', concat('mmsi:', toString(224000000 + number % 1000)), '') AS vessel_key,
        'reports.interceptions' AS source_topic, toUInt32(number % 4) AS source_partition,
        toUInt64(number + {offset}) AS source_offset, 'bench' AS source_cluster,
        '{{"notes": "synthetic"}}' AS report
    FROM numbers({n})"""


def fill(client: Client, db: str, n: int, upto: int | None) -> float:
    client.command(f"DROP DATABASE IF EXISTS {db}")
    runner.MIGRATIONS = {v: m for v, m in MIGRATIONS.items() if v <= upto} if upto else MIGRATIONS
    try:
        migrate(client, db)
    finally:
        runner.MIGRATIONS = MIGRATIONS
    columns = ", ".join(EVENT_COLUMNS)
    started = time.perf_counter()
    step = 500_000
    for offset in range(0, n, step):
        chunk = rows(min(step, n - offset), offset)
        client.command(f"INSERT INTO {db}.events ({columns}) SELECT {columns} FROM ({chunk})")
    client.command(f"OPTIMIZE TABLE {db}.events FINAL")
    return time.perf_counter() - started


def timed(client: Client, sql: str, parameters: dict[str, str] | None = None) -> tuple[float, int]:
    """Median ms of 5 runs, and the rows ClickHouse plans to read (EXPLAIN ESTIMATE: the granules
    its primary key and partitions leave)."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        client.query(sql, parameters=parameters or {})
        times.append((time.perf_counter() - started) * 1000)
    estimate = client.query(f"EXPLAIN ESTIMATE {sql}", parameters=parameters or {}).result_rows
    return statistics.median(times), sum(int(row[3]) for row in estimate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=2_000_000)
    n = parser.parse_args().reports
    client = connect(f"chdb://{tempfile.mkdtemp(prefix='bench-schema-')}")
    before_upto = BY_MONTH - 1
    filled = {"before": fill(client, "before", n, before_upto), "after": fill(client, "after", n, None)}
    # Half the keys are stored reports, half are new ones (as in a batch of fresh reports and resends).
    stored = range(7, n, max(n // 1000, 1))
    keys = orjson.dumps(
        [[AUTHORITIES[i % 6], str(i)] for i in stored] + [["ES-GC", f"new-{i}"] for i in stored]
    ).decode()
    keyed = (
        "(authority, report_id) IN (SELECT arrayJoin(JSONExtract(%(keys)s, 'Array(Tuple(String, String))')))"
    )
    week = "observed_at >= '2026-03-01 00:00:00' AND observed_at < '2026-03-08 00:00:00'"
    day = "observed_at >= '2026-03-01 00:00:00' AND observed_at < '2026-03-02 00:00:00'"
    month = "observed_at >= '2026-03-01 00:00:00' AND observed_at < '2026-04-01 00:00:00'"
    queries = {
        "one crossing, 7 days": {
            db: f"SELECT count(), sum(persons) FROM {db}.events FINAL "
            f"WHERE crossing_id = 'CROSSING-7' AND {week}"
            for db in filled
        },
        "every crossing, 1 day": {
            db: f"SELECT crossing_id, count(), sum(persons) FROM {db}.events FINAL "
            f"WHERE {day} GROUP BY crossing_id"
            for db in filled
        },
        "identity check, 2,000 keys": {
            "before": f"SELECT authority, report_id, source_offset FROM before.events WHERE {keyed}",
            "after": f"SELECT authority, report_id, source_offset FROM after.report_keys WHERE {keyed}",
        },
        "one vessel's track, a month": {
            "before": "SELECT observed_at, lat_deg, lon_deg FROM before.events WHERE kind = 'vessel' "
            f"AND vessel_key = 'mmsi:224000010' AND {month} ORDER BY observed_at",
            "after": "SELECT observed_at, lat_deg, lon_deg FROM after.vessel_positions "
            f"WHERE vessel_key = 'mmsi:224000010' AND {month} ORDER BY observed_at",
        },
    }
    print(f"{n:,} reports; filled in {filled['before']:.1f} s (before) / {filled['after']:.1f} s (after)")
    print(f"{'query':32} {'before: ms, rows read':>24} {'after: ms, rows read':>24}")
    for name, by_db in queries.items():
        cells = []
        for db in filled:
            ms, read = timed(client, by_db[db], {"keys": keys})
            cells.append(f"{ms:8.1f} ms {read:>11,}")
        print(f"{name:32} {cells[0]:>24} {cells[1]:>24}")
    columns = ", ".join(EVENT_COLUMNS)
    batches = {
        "2,000 reports of one day": rows(2000, 10 * n, "2026-12-01 00:00:00", 86400),
        "2,000 reports over two years": rows(2000, 20 * n),
    }
    for name, batch in batches.items():
        for db in filled:
            started = time.perf_counter()
            client.command(
                f"INSERT INTO {db}.events ({columns}) SELECT {columns} FROM ({batch}) "
                "SETTINGS throw_on_max_partitions_per_insert_block = 0"
            )
            print(f"insert of {name}, {db}: {(time.perf_counter() - started) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
