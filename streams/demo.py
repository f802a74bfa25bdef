"""The demo: bundled broker, chdb and a worker on the embedded defaults, fed the sample feed.

After the sample month, a scripted night with embedded anomalies (streams/scenario.py)
is replayed, and the alerts are shown as they fire.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from schemas.alerts import Impact
from streams.datadir import secure_data_dir
from streams.kafka.broker import free_port, start_local_broker
from streams.kafka.topics import INTERCEPTIONS, VESSELS, ensure_topics
from streams.replay import open_lines, replay_lines
from streams.scenario import build_scenario, default_start
from streams.settings import Settings
from streams.sinks.clickhouse import redact_dsn
from streams.worker_client import WorkerApi, start_worker_process, stop_process, wait_for_worker

BUNDLED = Path(__file__).resolve().parent / "data"
ALERT_WAIT_S = 90
ALERT_ROWS = 15


def run_demo(
    settings: Settings, console: Console,
    interceptions: Path | None = None, vessels: Path | None = None,
) -> None:  # fmt: skip
    """Run the whole demo; returns when every report is handled or on Ctrl-C."""
    from streams.cli import counts_table

    feeds = [(interceptions or BUNDLED / "sample_interceptions.jsonl.gz", INTERCEPTIONS),
             (vessels or BUNDLED / "sample_vessels.jsonl.gz", VESSELS)]  # fmt: skip
    secure_data_dir(settings.data_dir)
    scenario = build_scenario(default_start(), settings.partitions)
    watch_list = settings.data_dir / "demo-watch-list.csv"
    watch_list.write_text(scenario.watch_list_csv)
    with start_local_broker(settings.data_dir) as broker:
        asyncio.run(ensure_topics(broker.url, settings.partitions))
        console.print(f"broker: Tansu at {broker.url}")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = settings.data_dir / "worker.log"
        overrides = {"clickhouse": settings.clickhouse} if settings.clickhouse else {}
        worker = start_worker_process(
            log, kafka=broker.url, web_port=str(port), data_dir=str(settings.data_dir),
            watch_list=str(watch_list), partitions=str(settings.partitions), **overrides,
        )  # fmt: skip
        try:
            api = wait_for_worker(worker, base, settings.data_dir, log)
            console.print(f"worker: pid {worker.pid}, ClickHouse {redact_dsn(settings.clickhouse_dsn)}")
            sent = 0
            for path, topic in feeds:
                sent += asyncio.run(replay_lines(open_lines(path), topic, broker.url))
                console.print(f"replayed {path.name} to {topic}")
            for lines, topic in ((scenario.interceptions, INTERCEPTIONS), (scenario.vessels, VESSELS)):
                sent += asyncio.run(replay_lines(iter(lines), topic, broker.url))
            console.print("replayed a night with embedded anomalies (streams/scenario.py)")
            _watch(console, api, sent, counts_table, scenario.expected_groups)
        except KeyboardInterrupt:
            console.print("stopping (Ctrl-C)")
        finally:
            stop_process(worker)
    console.print(
        f"\nData: {settings.data_dir.resolve()} (ClickHouse tables borderwatch.events, "
        "crossing_counts, rejects, alerts).\nQuery it: [bold]borderwatch counts --by route[/], "
        "[bold]borderwatch alerts[/], [bold]borderwatch alerts cap ID[/], or "
        '[bold]borderwatch sql "SELECT crossing_id, sum(persons) FROM borderwatch.crossing_counts '
        'GROUP BY crossing_id"[/]'
    )


def _watch(console: Console, api: WorkerApi, sent: int, counts_table: Any, expected: frozenset[str]) -> None:
    """Live counts and alerts until every message is handled and the scenario's alerts have fired."""
    deadline = time.monotonic() + ALERT_WAIT_S
    with Live(console=console, refresh_per_second=2) as live:
        while True:
            status = api.get("/status") or {}
            rows = api.get("/counts", {"by": "crossing"}) or []
            alerts = api.get("/alerts") or []
            accounted = sum(status.get(k, 0) for k in ("events", "rejects", "duplicates"))
            fired = {a["id"].rsplit(":", 1)[0] for a in alerts}
            done = accounted >= sent and (expected <= fired or time.monotonic() > deadline)
            line = Text(
                f"handled {status.get('processed', 0)}/{sent} messages: "
                f"{status.get('events', 0)} reports stored, {status.get('rejects', 0)} rejected "
                f"(see the rejects table), {status.get('duplicates', 0)} resends ignored"
            )
            live.update(
                Group(counts_table(rows, "persons and reports per crossing"), line, _alerts_table(alerts))
            )
            if done:
                return
            time.sleep(0.5)


def _alerts_table(alerts: list[dict[str, Any]]) -> Table:
    """The most severe alerts first, with a count per kind in the title."""
    kinds = Counter(a["kind"] for a in alerts)
    summary = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
    table = Table(title=f"alerts: {summary or 'none yet'}")
    for column in ("status", "impact", "kind", "zone", "headline"):
        table.add_column(column)
    ranked = sorted(alerts, key=lambda a: Impact(a["impact"]).rank, reverse=True)
    for alert in ranked[:ALERT_ROWS]:
        table.add_row(alert["status"], alert["impact"], alert["kind"], alert["zone_id"], alert["headline"])
    return table
