"""Issue 21, point 2: what a worker acknowledged survives the worker: the bundled broker outlives it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from streams.client.worker_api import WorkerApi, start_worker_process, stop_process, wait_for_worker
from streams.kafka.broker import free_port, local_broker_process
from tests.helpers.attack import CENTRE, post_reports, tokens_file


def test_the_bundled_broker_outlives_a_stopped_and_a_killed_worker(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = {"kafka": "local", "data_dir": str(data_dir), "partitions": "2",
                "web_tokens_file": tokens_file(tmp_path / "tokens.toml")}  # fmt: skip
    started: list[subprocess.Popen[bytes]] = []

    def start() -> tuple[subprocess.Popen[bytes], WorkerApi, str]:
        port = free_port()
        log = data_dir / f"worker-{len(started)}.log"
        process = start_worker_process(log, web_port=str(port), **settings)
        started.append(process)
        base = f"http://127.0.0.1:{port}"
        return process, wait_for_worker(process, base, data_dir, log), base

    try:
        first, _, base = start()
        broker = local_broker_process(data_dir)
        assert broker is not None
        assert all(r["result"] == "accepted" for r in post_reports(base, CENTRE, "a", 50)["results"])
        stop_process(first)  # the worker that started it stops (as on a fault): the broker runs on
        assert local_broker_process(data_dir) == broker

        second, _, base = start()
        assert all(r["result"] == "accepted" for r in post_reports(base, CENTRE, "b", 50)["results"])
        second.kill()  # kill -9 (an OOM kill): no clean-up runs
        second.wait()
        assert local_broker_process(data_dir) == broker

        third, api, _ = start()
        rows: list[list[int]] = []
        for _ in range(240):
            rows = api.sql(
                "SELECT count(), uniqExact(report_id) FROM borderwatch.events "
                "WHERE report_id LIKE 'a-%' OR report_id LIKE 'b-%'"
            )["rows"]
            if rows[0][0] >= 100:
                break
            assert third.poll() is None
            time.sleep(0.5)
        assert rows == [[100, 100]]
        assert local_broker_process(data_dir) == broker
    finally:
        for process in started:
            stop_process(process)
        stopped = subprocess.run(
            [sys.executable, "-m", "streams.cli", "broker", "stop"],
            env={**os.environ, "BORDERWATCH_DATA_DIR": str(data_dir)}, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
    assert stopped.returncode == 0 and "stopped the broker" in stopped.stdout, stopped
    assert local_broker_process(data_dir) is None
