"""The console commands a new user runs: demo, schemas export, a worker with a bad catalogue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geo.catalogue import builtin_path

CLI = [sys.executable, "-m", "streams.cli"]


def run(
    args: list[str], tmp_path: Path, timeout: float = 240, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "BORDERWATCH_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "160",
        **env,
    }
    return subprocess.run(CLI + args, env=environment, capture_output=True, text=True, timeout=timeout)


def test_demo_runs_the_feed_to_the_end_and_says_where_the_data_is(tmp_path: Path) -> None:
    result = run(["demo"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # The sample month (3,230 messages) and the scripted night with anomalies (80 reports).
    assert "handled 3310/3310 messages: 3304 reports stored, 3 rejected" in result.stdout
    for headline in (
        "Surge at IT-LAMPEDUSA",
        "Mass crossing attempt at ES-CEUTA-LAND",
        "Encounter at sea",
        "Vessel of interest: mmsi:224000104",
    ):
        assert headline in result.stdout, headline
    # The dark vessel's gap is one of many medium alerts (the sample's vessels fall silent too).
    gaps = run(["alerts", "--kind", "ais_gap"], tmp_path)
    assert gaps.returncode == 0 and "ais_gap:mmsi:224000103" in gaps.stdout, gaps.stdout + gaps.stderr
    assert "3 resends ignored" in result.stdout
    assert "IT-LAMPEDUSA" in result.stdout and "borderwatch counts" in result.stdout
    # The demo has stopped, so chdb is free: counts open it directly.
    counts = run(["counts", "--by", "route"], tmp_path)
    assert counts.returncode == 0, counts.stderr
    assert "Central Mediterranean" in counts.stdout and "6698" in counts.stdout


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
