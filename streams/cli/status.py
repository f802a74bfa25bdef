"""Command line: `borderwatch status`, and the one sentence every command says when no worker runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from streams.client.worker_api import WorkerApi, local_api, running_worker
from streams.config.settings import Settings

console = Console()
err = Console(stderr=True, soft_wrap=True)
LAST_REPORTS_SQL = (
    "SELECT authority, count() AS reports, max(observed_at) AS last_observed, "
    "max(received_at) AS last_received FROM {db}.events GROUP BY authority ORDER BY authority"
)


def no_worker(data_dir: Path) -> str:
    """What to say when no worker answers for a data dir."""
    shown = str(data_dir) if data_dir.is_absolute() or str(data_dir).startswith(".") else f"./{data_dir}"
    return f"No worker is running on {shown} (start one with `borderwatch worker`)."


def worker_api(settings: Settings) -> WorkerApi | None:
    """This data dir's worker, or the settings' port and TLS (a process-role worker writes no worker.json)."""
    return running_worker(settings.data_dir) or local_api(
        settings.web_port, settings.data_dir, settings.web_tls_cert_file
    )


def status() -> None:
    """What this data dir's worker runs: its parts and their health, consumer lag, the last report per
    authority."""
    settings = Settings()
    api = worker_api(settings)
    answer = api.get("/status") if api else None
    if api is None or answer is None:
        err.print(f"[bold red]error:[/] {no_worker(settings.data_dir)}")
        raise typer.Exit(code=2)
    if "error" in answer:
        err.print(f"[bold red]error:[/] the worker at {api.base_url} refused: {answer['error']}")
        raise typer.Exit(code=2)
    health: dict[str, str] = answer.get("health", {})
    healthy = all(state == "ok" for state in health.values())
    verdict = "healthy" if healthy else "[bold red]NOT healthy[/]"
    console.print(f"worker at {api.base_url}, role {answer.get('role', '?')}: {verdict}")
    console.print(parts_table(answer))
    console.print(lag_table(answer.get("lag", {})))
    last = api.sql(LAST_REPORTS_SQL.format(db=settings.database)) if "events" in answer else None
    if last is not None and "error" not in last:
        console.print(last_reports_table(last["rows"]))


def parts_table(answer: dict[str, Any]) -> Table:
    """Each part and its health; the counts in the caption."""
    health: dict[str, str] = answer.get("health", {})
    counts = ", ".join(
        f"{answer[k]} {k}" for k in ("events", "rejects", "processed", "duplicates") if k in answer
    )
    table = Table(title="parts", caption=counts or None)
    table.add_column("part")
    table.add_column("health")
    for part, state in sorted(health.items()):
        table.add_row(part, state if state == "ok" else f"[bold red]{state}[/]")
    return table


def lag_table(lag: dict[str, dict[str, int]]) -> Table:
    """Records each part has yet to read, per topic and partition."""
    table = Table(title="consumer lag (records not yet read)")
    for column in ("part", "topic[partition]", "lag"):
        table.add_column(column, justify="right" if column == "lag" else "left")
    for part, partitions in sorted(lag.items()):
        for where, behind in sorted(partitions.items()):
            table.add_row(part, where, str(behind))
    return table


def last_reports_table(rows: list[list[Any]]) -> Table:
    """The last report of each authority: is every centre still sending?"""
    table = Table(title="last report per authority")
    for column in ("authority", "reports", "last observed", "last received"):
        table.add_column(column)
    for authority, reports, observed, received in rows:
        table.add_row(str(authority), str(reports), str(observed), str(received))
    return table
