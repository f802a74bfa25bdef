"""The demo: bundled broker, chdb and a worker on the embedded defaults, fed the sample feed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from schemas.codec import decode_obj
from schemas.errors import WorkerNotRunningError
from streams.broker import free_port, start_local_broker
from streams.replay import open_lines, replay_lines
from streams.settings import Settings
from streams.topics import INTERCEPTIONS, VESSELS, ensure_topics

BUNDLED = Path(__file__).resolve().parent / "data"


def start_worker_process(settings: Settings, broker_url: str, port: int) -> subprocess.Popen[bytes]:
    """`borderwatch worker` as a child process, logging to the data dir."""
    env = {**os.environ, "BORDERWATCH_KAFKA": broker_url, "BORDERWATCH_WEB_PORT": str(port),
           "BORDERWATCH_DATA_DIR": str(settings.data_dir)}  # fmt: skip
    if settings.clickhouse:
        env["BORDERWATCH_CLICKHOUSE"] = settings.clickhouse
    log = (settings.data_dir / "worker.log").open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"], env=env,
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the demo, which stops the worker, then the broker
        )  # fmt: skip
    finally:
        log.close()


def get_json(url: str, params: dict[str, str] | None = None) -> Any:
    """GET a worker endpoint; None while it does not answer yet."""
    query = "?" + urllib.parse.urlencode(params) if params else ""
    try:
        with urllib.request.urlopen(url + query, timeout=10) as response:
            return decode_obj(response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def wait_for_worker(
    process: subprocess.Popen[bytes], base_url: str, log: Path, timeout_s: float = 120
) -> None:
    """Block until the worker answers /status; a dead worker raises with its log's tail."""
    deadline = time.monotonic() + timeout_s
    while get_json(base_url + "/status") is None:
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise WorkerNotRunningError(f"the worker did not start; end of {log}:\n{tail}")
        time.sleep(0.3)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_demo(
    settings: Settings, console: Console,
    interceptions: Path | None = None, vessels: Path | None = None,
) -> None:  # fmt: skip
    """Run the whole demo; returns when every report is handled or on Ctrl-C."""
    from streams.cli import counts_table

    feeds = [(interceptions or BUNDLED / "sample_interceptions.jsonl.gz", INTERCEPTIONS),
             (vessels or BUNDLED / "sample_vessels.jsonl.gz", VESSELS)]  # fmt: skip
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with start_local_broker(settings.data_dir) as broker:
        asyncio.run(ensure_topics(broker.url, settings.partitions))
        console.print(f"broker: Tansu at {broker.url}")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        worker = start_worker_process(settings, broker.url, port)
        try:
            wait_for_worker(worker, base, settings.data_dir / "worker.log")
            console.print(f"worker: pid {worker.pid}, ClickHouse {settings.clickhouse_dsn}")
            sent = 0
            for path, topic in feeds:
                sent += asyncio.run(replay_lines(open_lines(path), topic, broker.url))
                console.print(f"replayed {path.name} to {topic}")
            _watch(console, base, sent, counts_table)
        except KeyboardInterrupt:
            console.print("stopping (Ctrl-C)")
        finally:
            stop_process(worker)
    console.print(
        f"\nData: {settings.data_dir.resolve()} (ClickHouse tables borderwatch.events, "
        "crossing_counts, rejects).\nQuery it: [bold]borderwatch counts --by route[/], or "
        '[bold]borderwatch sql "SELECT crossing_id, sum(persons) FROM borderwatch.crossing_counts '
        'GROUP BY crossing_id"[/]'
    )


def _watch(console: Console, base: str, sent: int, counts_table: Any) -> None:
    """Live table of counts until every message sent is stored, rejected or a known resend."""
    with Live(console=console, refresh_per_second=2) as live:
        while True:
            status = get_json(base + "/status") or {}
            rows = get_json(base + "/counts", {"by": "crossing"}) or []
            accounted = sum(status.get(k, 0) for k in ("events", "rejects", "duplicates"))
            done = accounted >= sent
            line = Text(
                f"handled {status.get('processed', 0)}/{sent} messages: "
                f"{status.get('events', 0)} reports stored, {status.get('rejects', 0)} rejected "
                f"(see the rejects table), {status.get('duplicates', 0)} resends ignored"
            )
            live.update(Group(counts_table(rows, "persons and reports per crossing"), line))
            if done:
                return
            time.sleep(0.5)
