"""The CLI answers like a colleague: `status` of a real worker, one line when no worker runs, and a second
worker on a data dir in use names the pid that holds it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from streams.kafka.topics import INTERCEPTIONS
from tests.helpers.kafka_io import send

CLI = [sys.executable, "-m", "streams.cli"]
GOOD = {"authority": "ES-GC", "observed_at": "2026-11-22T03:14:00Z", "lat": 35.889, "lon": -5.317,
        "incident_type": "irregular_crossing_attempt", "persons": 3}  # fmt: skip


def cli(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "BORDERWATCH_DATA_DIR": str(data_dir), "COLUMNS": "200", **env}
    return subprocess.run(CLI + args, env=environment, capture_output=True, text=True, timeout=240)


def test_without_a_worker_reload_status_and_health_say_so_in_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    for command, code in (("reload", 2), ("status", 2), ("health", 1)):
        result = cli([command], data_dir)
        assert result.returncode == code, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"No worker is running on {data_dir} (start one with `borderwatch worker`)." in lines[0]


def test_status_shows_parts_lag_and_the_last_report_per_authority(start_worker: Any, broker: Any) -> None:
    worker = start_worker()
    send(broker, INTERCEPTIONS, [orjson.dumps({**GOOD, "report_id": f"s-{n}"}) for n in range(5)])
    worker.wait_until(lambda s: s["events"] >= 5)
    data_dir = worker.log.parent
    result = cli(["status"], data_dir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "ingest" in out and "healthy" in out
    assert f"{INTERCEPTIONS}[0]" in out  # the lag table
    assert "ES-GC" in out and "2026-11-22T03:14:00" in out  # the last report of ES-GC

    second = cli(["worker"], data_dir, BORDERWATCH_KAFKA=broker.url, BORDERWATCH_WEB_PORT="0")
    assert second.returncode == 2
    assert f"in use by worker pid {worker.process.pid}" in second.stderr, second.stderr
    assert "Traceback" not in second.stderr
