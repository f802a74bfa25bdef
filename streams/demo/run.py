"""The demo: bundled broker, chdb and a worker on the embedded defaults, fed the sample feed.

After the sample month, a scripted night with embedded anomalies (streams/demo/scenario.py)
is replayed, and the alerts are shown as they fire.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from schemas.errors import BorderwatchError
from streams.client.worker_api import WorkerApi, start_worker_process, stop_process, wait_for_worker
from streams.config.settings import Settings
from streams.data import SAMPLE_INTERCEPTIONS, SAMPLE_VESSELS
from streams.demo.scenario import Scenario, build_scenario, default_start, interleave
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import free_port, local_broker_process, start_local_broker
from streams.kafka.topics import INTERCEPTIONS, VESSELS
from streams.sinks.clickhouse.connection import redact_dsn
from streams.sources.replay import open_lines, replay_lines
from streams.worker.datadir import running_worker_process, secure_data_dir

ALERT_WAIT_S = 90
ALERT_ROWS = 15
# A detect partition's clock is the newest report it has seen, from whichever input partition.
# Replayed flat out, one input partition can run a day ahead of another and make the other's
# reports too late; at this pace the worker keeps up and reads them in step.
DEMO_RATE_PER_S = 300.0
FIRST_LINES = 10
# One partition per topic: a detect partition's event clock is the newest report of any input
# partition, and with four the scripted night's Lampedusa reports were still judged too late in
# the demo (an open defect: per-input-partition watermarks are the fix, left to the scale-out work).
DEMO_PARTITIONS = 1
CONSUMING_WAIT_S = 120


@dataclass(frozen=True)
class Handled:
    """What a worker's /status says it has handled: rows in ClickHouse and this process's counters.

    `events` and `rejects` are ClickHouse's totals, which hold earlier runs on the same data dir;
    `duplicates` counts this worker process only. A run's share is the difference from the start.
    """

    events: int = 0
    rejects: int = 0
    duplicates: int = 0

    @classmethod
    def of(cls, status: dict[str, Any] | None) -> Handled:
        status = status or {}
        return cls(status.get("events", 0), status.get("rejects", 0), status.get("duplicates", 0))

    def since(self, start: Handled) -> Handled:
        return Handled(
            self.events - start.events, self.rejects - start.rejects, self.duplicates - start.duplicates
        )

    @property
    def total(self) -> int:
        return self.events + self.rejects + self.duplicates


class DataDirInUseError(BorderwatchError):
    """The demo's data dir belongs to a worker or a broker that still runs."""


def refuse_if_in_use(data_dir: Path) -> None:
    """Stop before touching anything when another borderwatch process owns the data dir.

    chdb admits one process per directory, and the demo would replace the
    running broker's address file; so it names what runs and leaves it alone.
    """
    running = []
    if (worker := running_worker_process(data_dir)) is not None:
        running.append(f"a worker (pid {worker[0]}, http://127.0.0.1:{worker[1]})")
    if (broker := local_broker_process(data_dir)) is not None:
        running.append(f"a broker (pid {broker[0]}, kafka://127.0.0.1:{broker[1]})")
    if running:
        raise DataDirInUseError(
            f"{data_dir} is in use by {' and '.join(running)}: stop it first (kill PID), "
            "or run the demo with another --data-dir"
        )


def _wait_until_handled(api: WorkerApi, sent: int, start: Handled) -> None:
    """Until the worker has handled this run's `sent` messages (its consumers joined), or a time limit."""
    deadline = time.monotonic() + CONSUMING_WAIT_S
    while time.monotonic() < deadline:
        if Handled.of(api.get("/status")).since(start).total >= sent:
            return
        time.sleep(0.2)


def earlier_run(start: Handled) -> str | None:
    """What the data dir held before this run, if anything: the demo says so, and counts only this run."""
    if start.events == 0 and start.rejects == 0:
        return None
    return (
        f"this data dir already held a run: {start.events} reports and {start.rejects} rejected messages "
        "stored. This run adds to it; its reports that were stored before are resends and count once"
    )


def run_demo(
    settings: Settings, console: Console,
    interceptions: Path | None = None, vessels: Path | None = None,
    serve: Callable[[WorkerApi], str | None] | None = None,
) -> None:  # fmt: skip
    """Run the whole demo; returns when every report is handled or on Ctrl-C. With `serve` (a terminal),
    it then serves the live picture, printing the one-time link `serve` makes, until Ctrl-C."""
    from streams.cli.output import counts_table

    refuse_if_in_use(settings.data_dir)
    feeds = [(interceptions or SAMPLE_INTERCEPTIONS, INTERCEPTIONS),
             (vessels or SAMPLE_VESSELS, VESSELS)]  # fmt: skip
    secure_data_dir(settings.data_dir)
    scenario = build_scenario(default_start(), DEMO_PARTITIONS)
    watch_list = settings.data_dir / "demo-watch-list.csv"
    watch_list.write_text(scenario.watch_list_csv)
    with start_local_broker(settings.data_dir) as broker:
        asyncio.run(ensure_topics(broker.url, DEMO_PARTITIONS))
        console.print(f"broker: Tansu at {broker.url}")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = settings.data_dir / "worker.log"
        overrides = {"clickhouse": settings.clickhouse} if settings.clickhouse else {}
        worker = start_worker_process(
            log, kafka=broker.url, web_port=str(port), data_dir=str(settings.data_dir),
            watch_list=str(watch_list), partitions=str(DEMO_PARTITIONS), **overrides,
        )  # fmt: skip
        try:
            api = wait_for_worker(worker, base, settings.data_dir, log)
            console.print(f"worker: pid {worker.pid}, ClickHouse {redact_dsn(settings.clickhouse_dsn)}")
            start = Handled.of(api.get("/status"))
            if (held := earlier_run(start)) is not None:
                console.print(held)
            sent = _replay(console, api, start, broker.url, feeds, scenario)
            _watch(console, api, sent, start, counts_table, scenario.expected_groups)
            if serve is not None:
                _serve_picture(console, api, serve)
        except KeyboardInterrupt:
            console.print("stopping (Ctrl-C)")
        finally:
            stop_process(worker)
    _closing_words(console, settings.data_dir)


def _replay(
    console: Console, api: WorkerApi, start: Handled, broker_url: str, feeds: list[tuple[Path, str]],
    scenario: Scenario,
) -> int:  # fmt: skip
    """Each feed with the scripted night in its place; returns the messages sent."""
    sent = 0
    nights = {INTERCEPTIONS: scenario.interceptions, VESSELS: scenario.vessels}
    for path, topic in feeds:
        lines = interleave(open_lines(path), nights[topic])
        # The first lines wait until the worker consumes; the rest are paced (see DEMO_RATE_PER_S).
        first, rest = lines[:FIRST_LINES], lines[FIRST_LINES:]
        sent += asyncio.run(replay_lines(iter(first), topic, broker_url))
        _wait_until_handled(api, sent, start)
        sent += asyncio.run(replay_lines(iter(rest), topic, broker_url, DEMO_RATE_PER_S))
        console.print(f"replayed {path.name} to {topic}, with the scripted night in its place")
    return sent


def _closing_words(console: Console, data_dir: Path) -> None:
    console.print(
        f"\nData: {data_dir.resolve()} (ClickHouse tables borderwatch.events, "
        "crossing_counts, rejects, alerts).\nQuery it: [bold]borderwatch counts --by route[/], "
        "[bold]borderwatch alerts[/], [bold]borderwatch alerts show ID[/] (an id from the alerts above), "
        "[bold]borderwatch alerts cap ID[/], or "
        '[bold]borderwatch sql "SELECT crossing_id, sum(persons) FROM borderwatch.crossing_counts '
        'GROUP BY crossing_id"[/]'
        "\nThe broker has stopped, and its topics with it (the bundled Tansu keeps them in memory): the "
        "detectors' state (vessel tracks, open alert groups, the history they learned) is gone; "
        "ClickHouse keeps the rest. A worker started later on a new broker says so in /status, and "
        "still knows a resent report as a resend. Use Apache Kafka (BORDERWATCH_KAFKA) to keep it all."
    )


def _serve_picture(console: Console, api: WorkerApi, serve: Callable[[WorkerApi], str | None]) -> None:
    """Keep the worker up for the live picture until Ctrl-C."""
    link = serve(api)
    console.print(
        f"\nThe live picture: [bold]{link}[/] (a one-time sign-in link; `borderwatch ui` makes another)."
        "\nServing until Ctrl-C."
    )
    if link:
        import webbrowser

        webbrowser.open(link)
    while True:
        time.sleep(3600)


def _watch(
    console: Console, api: WorkerApi, sent: int, start: Handled, counts_table: Any, expected: frozenset[str]
) -> None:
    """Live counts and alerts until this run's messages are handled and the scenario's alerts have fired."""
    deadline = time.monotonic() + ALERT_WAIT_S
    with Live(console=console, refresh_per_second=2) as live:
        while True:
            status = api.get("/status") or {}
            rows = api.get("/counts", {"by": "crossing"}) or []
            alerts = api.get("/alerts") or []
            run = Handled.of(status).since(start)
            fired = {a["id"].rsplit(":", 1)[0] for a in alerts}
            done = run.total >= sent and (expected <= fired or time.monotonic() > deadline)
            line = Text(
                f"handled {min(run.total, sent)}/{sent} messages of this run: {run.events} reports stored, "
                f"{run.rejects} rejected (see the rejects table), {run.duplicates} resends ignored"
            )
            counts = counts_table(rows, "persons and reports per crossing")
            live.update(Group(counts, line, _alerts_list(alerts, console.width)))
            if done:
                return
            time.sleep(0.5)


def _alerts_list(alerts: list[dict[str, Any]], width: int) -> Text:
    """The most severe alerts first, as `borderwatch alerts` lists them: each id whole (for
    `borderwatch alerts show ID`), under it the headline and the reason; a count per kind on top."""
    from streams.cli.output import alert_lines, ranked_alerts

    kinds = Counter(a["kind"] for a in alerts)
    summary = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
    shown = ranked_alerts(alerts)[:ALERT_ROWS]
    more = f" (the {ALERT_ROWS} most severe)" if len(alerts) > ALERT_ROWS else ""
    title = f"alerts: {summary or 'none yet'}{more}"
    return Text("\n".join(alert_lines(shown, title, width, headlines=True)))
