"""The console commands a new user runs: demo, schemas export, a worker with a bad catalogue."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from geo.catalogue import builtin_path
from schemas.alerts import Alert
from streams.client.worker_api import start_worker_process, stop_process, wait_for_worker
from streams.demo.scenario import build_scenario, default_start
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import free_port, start_local_broker
from streams.kafka.topics import INTERCEPTIONS, VESSELS
from tests.helpers.cli import CLI, run, run_bytes
from tests.helpers.kafka_io import send

# Not JSON, so it is refused and kept in `rejects` as sent: a formula, a comma, quotes and a line break.
HOSTILE_RAW = b"=cmd|' /C calc'!A0,\"quoted\"\nsecond line"


def test_schemas_export_writes_loadable_json_schemas(tmp_path: Path) -> None:
    result = run(["schemas", "export", str(tmp_path / "out")], tmp_path)
    assert result.returncode == 0, result.stderr
    alert = json.loads((tmp_path / "out" / "alert.schema.json").read_text())
    assert {"id", "version", "kind", "status", "impact"} <= set(alert["required"])
    schema = json.loads((tmp_path / "out" / "interception_report.schema.json").read_text())
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {
        "report_id",
        "authority",
        "observed_at",
        "incident_type",
        "persons",
    }


def test_a_worker_refuses_to_start_on_a_bad_catalogue(tmp_path: Path) -> None:
    document = json.loads(builtin_path().read_text())
    document["features"].append(document["features"][3])
    bad = tmp_path / "mine.geojson"
    bad.write_text(json.dumps(document))
    result = run(["worker"], tmp_path, timeout=60, BORDERWATCH_GEOFENCES=str(bad))
    assert result.returncode == 2
    assert "duplicate crossing id" in result.stderr


def test_replay_without_a_broker_says_what_to_do(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text("{}\n")
    result = run(["replay", str(feed)], tmp_path, timeout=60)
    assert result.returncode == 2
    assert "no local broker is running" in result.stderr


def test_counts_before_any_data_says_what_to_do(tmp_path: Path) -> None:
    result = run(["counts"], tmp_path, timeout=60)
    assert result.returncode == 2
    assert "no borderwatch data" in result.stderr and "borderwatch demo" in result.stderr


def test_ctrl_c_stops_the_demo_and_its_children_cleanly(tmp_path: Path) -> None:
    import re
    import signal
    import time

    environment = {**os.environ, "BORDERWATCH_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "160"}
    out = tmp_path / "demo.out"
    with out.open("w") as handle:
        demo = subprocess.Popen(
            [*CLI, "demo"], env=environment, stdout=handle, stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while "worker: pid" not in out.read_text():
        assert demo.poll() is None and time.monotonic() < deadline, out.read_text()
        time.sleep(0.2)
    worker_pid = int(re.search(r"worker: pid (\d+)", out.read_text()).group(1))  # type: ignore[union-attr]
    demo.send_signal(signal.SIGINT)
    assert demo.wait(timeout=60) == 0
    assert "stopping (Ctrl-C)" in out.read_text() or "handled 3310/3310" in out.read_text()
    with pytest.raises(ProcessLookupError):
        os.kill(worker_pid, 0)
    assert not (tmp_path / "data" / "broker.json").exists()


def test_a_worker_without_its_broker_or_clickhouse_says_which(tmp_path: Path) -> None:
    no_broker = run(["worker"], tmp_path, timeout=60, BORDERWATCH_KAFKA="kafka://127.0.0.1:1")
    assert no_broker.returncode == 2
    assert "cannot reach the broker at 'kafka://127.0.0.1:1'" in no_broker.stderr
    dsn = "http://analyst:hunter2@127.0.0.1:1/borderwatch"
    no_clickhouse = run(["worker"], tmp_path, timeout=60, BORDERWATCH_CLICKHOUSE=dsn)
    assert no_clickhouse.returncode == 2
    assert "cannot connect to ClickHouse at 'http://analyst:***@127.0.0.1:1" in no_clickhouse.stderr
    assert "hunter2" not in no_clickhouse.stderr + no_clickhouse.stdout
    # The bundled broker that worker started outlives it, as it would hold what a worker acknowledged.
    stopped = run(["broker", "stop"], tmp_path, timeout=60)
    assert stopped.returncode == 0 and "stopped the broker" in stopped.stdout, stopped.stdout + stopped.stderr


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running worker that has stored the scenario's night (reports and alerts) and one hostile reject.

    Yields the directory whose `data` the CLI is pointed at (as `run` does with tmp_path).
    """
    root = tmp_path_factory.mktemp("night")
    data_dir = root / "data"
    scenario = build_scenario(default_start(), partitions=2)
    watch = root / "watch.csv"
    watch.write_text(scenario.watch_list_csv)
    with start_local_broker(root / "broker") as broker:
        asyncio.run(ensure_topics(broker.url, partitions=2))
        port, log = free_port(), data_dir / "worker.log"
        process = start_worker_process(
            log, kafka=broker.url, data_dir=str(data_dir), web_port=str(port), partitions="2",
            worker_id=f"bw-cli-{os.getpid()}", watch_list=str(watch),
        )  # fmt: skip
        try:
            api = wait_for_worker(process, f"http://127.0.0.1:{port}", data_dir, log)
            sent = send(broker, INTERCEPTIONS, [*scenario.interceptions, HOSTILE_RAW])
            sent += send(broker, VESSELS, scenario.vessels)
            # The night is over once every message is handled and the alert states have stopped changing.
            deadline, seen, quiet = time.monotonic() + 150, None, 0
            while quiet < 3:
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(1)
                status = api.get("/status") or {}
                states = sorted((a["id"], a["version"]) for a in api.get("/alerts") or [])
                handled = sum(status.get(k, 0) for k in ("events", "rejects", "duplicates")) >= sent
                quiet = quiet + 1 if handled and states and states == seen else 0
                seen = states
            yield root
        finally:
            stop_process(process)


def formats(args: list[str], root: Path) -> tuple[str, list[dict[str, Any]], list[dict[str, str]]]:
    """The table's stdout, the parsed JSON and the parsed CSV of one command; all three succeed."""
    table = run(args, root, timeout=60)
    assert table.returncode == 0, table.stdout + table.stderr
    as_json, as_csv = (run_bytes([*args, "--format", name], root) for name in ("json", "csv"))
    for result in (as_json, as_csv):
        assert result.returncode == 0 and b"error" not in result.stderr, result.stdout + result.stderr
    assert as_csv.stdout.endswith(b"\r\n")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout.decode(), newline="")))
    return table.stdout, json.loads(as_json.stdout), rows


def table_rows(stdout: str) -> list[list[str]]:
    """The first line of each row of a rich table (a row starts where its first cell has text)."""
    lines = [line.split("│")[1:-1] for line in stdout.splitlines() if line.startswith("│")]
    return [[cell.strip() for cell in cells] for cells in lines if cells[0].strip()]


def test_alerts_as_json_and_csv_are_the_table_rows_and_their_ids_work_with_cap(night: Path) -> None:
    table, records, rows = formats(["alerts"], night)
    alerts = [Alert.model_validate(a) for a in records]
    ids = [a.id for a in alerts]
    assert ids and len(set(ids)) == len(ids)  # which alerts the night raises is test_alerts_end_to_end's
    listed = [line.split() for line in table.splitlines() if not line.startswith(" ")]
    shown = sorted((cells[2], cells[1], cells[0]) for cells in listed if len(cells) == 3 and cells[2] in ids)
    assert shown == sorted((a.id, a.status.value, a.impact.value) for a in alerts)  # alert_lines: id last
    assert [r["id"] for r in rows] == ids and list(rows[0]) == list(records[0])
    for row, record in zip(rows, records):
        assert (row["headline"], row["window_end"], row["version"]) == (
            record["headline"], record["window_end"], str(record["version"]),
        )  # fmt: skip
        assert json.loads(row["event_ids"]) == record["event_ids"]
    for alert_id in ids:  # as printed, straight into the next command: no quoting needed
        assert shlex.quote(alert_id) == alert_id
        cap = run(["alerts", "cap", alert_id], night, timeout=60)
        assert cap.returncode == 0 and "<identifier>" in cap.stdout, cap.stderr


def test_health_exits_0_for_a_healthy_worker_and_1_without_one(night: Path, tmp_path: Path) -> None:
    healthy = run(["health"], night, timeout=60)
    assert healthy.returncode == 0 and json.loads(healthy.stdout)["healthy"] is True, healthy.stderr
    (tmp_path / "data").mkdir()
    nobody = run(["health"], tmp_path, timeout=60, BORDERWATCH_WEB_PORT=str(free_port()))
    assert nobody.returncode == 1 and "No worker is running on" in nobody.stderr


def test_counts_as_json_and_csv_are_the_table_rows(night: Path) -> None:
    table, records, rows = formats(["counts", "--by", "route"], night)
    assert records and sum(r["reports"] for r in records) > 0
    assert [(r["route"], r["reports"], r["persons"]) for r in records] == [
        (r["route"], int(r["reports"]), int(r["persons"])) for r in rows
    ]
    assert [r[:3] for r in table_rows(table)] == [
        [r["route"] or "(none)", str(r["reports"]), str(r["persons"])] for r in records
    ]


def test_sql_as_json_and_csv_are_the_table_rows_with_hostile_values_kept_safe(night: Path) -> None:
    query = (
        "SELECT 'Ceuta, Spain' AS comma, 'the \"Sea Star\"' AS quote, '=1+1' AS formula, -3 AS n, 2.5 AS x, "
        "toDateTime64('2026-01-02 03:04:05.678', 3, 'UTC') AS at, 'two\\nlines' AS note"
    )
    table, [record], [row] = formats(["sql", query], night)
    at_text = record.pop("at")
    at = datetime.fromisoformat(at_text)  # chdb gives UTC columns back naive
    assert at.replace(tzinfo=at.tzinfo or UTC) == datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert record == {
        "comma": "Ceuta, Spain", "quote": 'the "Sea Star"', "formula": "=1+1", "n": -3, "x": 2.5,
        "note": "two\nlines",
    }  # fmt: skip
    record["at"] = at_text
    assert row == {**{k: str(v) for k, v in record.items()}, "formula": "'=1+1"}
    first_line = ["Ceuta, Spain", 'the "Sea Star"', "=1+1", "-3", "2.5", record["at"], "two"]
    assert table_rows(table) == [first_line]

    # A refused report's raw bytes, stored as sent: quoted and defused in CSV, verbatim in JSON.
    hostile = "SELECT reason, raw, received_at FROM borderwatch.rejects FINAL WHERE position(raw, 'cmd|') > 0"
    table, [record], [row] = formats(["sql", hostile], night)
    assert record["raw"] == HOSTILE_RAW.decode() and row["raw"] == "'" + HOSTILE_RAW.decode()
    assert row["received_at"] == record["received_at"] and row["reason"] == record["reason"]
    as_csv = run_bytes(["sql", hostile, "--format", "csv"], night).stdout
    assert b'"\'=cmd|\' /C calc\'!A0,""quoted""\nsecond line"' in as_csv


def test_a_bad_format_is_refused_in_one_clear_message(tmp_path: Path) -> None:
    result = run(["counts", "--format", "xml"], tmp_path, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert "'xml' is not one of 'table', 'json', 'csv'" in result.stderr


def test_demo_refuses_a_data_dir_in_use_names_what_runs_and_touches_nothing(
    tmp_path: Path, start_worker: Any
) -> None:
    worker = start_worker()  # its data dir is tmp_path / "data", the CLI's here
    data = tmp_path / "data"
    with start_local_broker(data) as other:  # a broker recorded in the same data dir
        before = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
        result = run(["demo"], tmp_path, timeout=60)
        assert result.returncode == 2, result.stdout + result.stderr
        message = " ".join((result.stdout + result.stderr).split())
        assert f"pid {worker.process.pid}" in message and f"pid {other.process.pid}" in message
        assert "in use" in message and "Traceback" not in message
        after = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
        # broker.json, worker.json and the worker's log as they were: the demo started nothing.
        assert {k: v for k, v in after.items() if k != "worker-0.log"} == {
            k: v for k, v in before.items() if k != "worker-0.log"
        }
        assert "demo-watch-list.csv" not in after and "worker.log" not in after
    assert worker.process.poll() is None and worker.status()  # the running worker is untouched
